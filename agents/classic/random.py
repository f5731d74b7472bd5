"""Uniformly random slates."""

from __future__ import annotations

from typing import Any

import numpy as np

from recarena.agents.base import uniform_propensity
from recarena.validation import check_int

__all__ = ["RandomPolicy"]


class RandomPolicy:
    """Uniformly random ordered slates of K distinct candidates (the floor every policy must beat)."""

    name = "random"
    is_oracle = False

    def __init__(self, num_candidates: int, slate_size: int, seed: int | None = 0) -> None:
        self.num_candidates = check_int(num_candidates, "RandomPolicy.num_candidates", 1)
        self.slate_size = check_int(slate_size, "RandomPolicy.slate_size", 1, self.num_candidates)
        self._seed = None if seed is None else check_int(seed, "RandomPolicy.seed", 0)
        self._rng = np.random.default_rng(seed)

    def reset(self) -> None:
        self._rng = np.random.default_rng(self._seed)

    def recommend(self, obs: dict[str, np.ndarray], info: dict[str, Any] | None = None) -> np.ndarray:
        n = len(next(iter(obs.values()))) if obs else 1
        r = self._rng.random((n, self.num_candidates))
        return np.argsort(r, axis=1)[:, : self.slate_size]

    def propensity(self, slates: np.ndarray) -> np.ndarray:
        """Probability that each shown candidate was put at its position: ``1 / C`` for
        every position of a uniformly random ordered slate (the event log's
        ``propensity`` column, Open Bandit Pipeline's position-wise ``pscore``)."""
        return uniform_propensity(self.num_candidates, slates)[0]

    def slate_propensity(self, slates: np.ndarray) -> np.ndarray:
        """Probability of each whole ordered slate: ``(C - K)! / C!`` (the event log's
        ``slate_propensity`` column)."""
        return uniform_propensity(self.num_candidates, slates)[1]
