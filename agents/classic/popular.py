"""Most-popular: rank candidates by (optionally decayed) online interaction counts."""

from __future__ import annotations

from typing import Any

import numpy as np

from recarena.agents.bandits.mab import SIGNALS, rank_random_ties
from recarena.agents.base import ReportsPropensity, batch_size, candidate_ids
from recarena.agents.classic.interactions import positive_feedback
from recarena.validation import check_choice, check_float, check_int

__all__ = ["MostPopular"]


class MostPopular(ReportsPropensity):
    """The candidates with the most interactions so far, counted over all users.

    Every step, counts are multiplied by ``decay`` (1: all-time popularity; below 1: an
    exponentially-weighted, trending popularity with a half-life of ``ln 2 / -ln(decay)``
    steps) and each shown item adds its ``signal`` (clicks by default). Ties, including
    the cold start, are broken at random. The non-personalised baseline every
    personalised recommender must beat (Cremonesi, Koren & Turrin 2010). Its propensities
    are exact (:func:`~recarena.agents.base.ranking_propensity` of the counts).
    """

    name = "popular"
    is_oracle = False

    def __init__(self, num_items: int, slate_size: int, decay: float = 1.0,
                 signal: str = "clicked", seed: int | None = 0) -> None:
        self.num_items = check_int(num_items, "MostPopular.num_items", 1)
        self.slate_size = check_int(slate_size, "MostPopular.slate_size", 1, self.num_items)
        self.decay = check_float(decay, "MostPopular.decay", 0.0, 1.0, low_open=True)
        self.signal = check_choice(signal, "MostPopular.signal", SIGNALS)
        self.seed = None if seed is None else check_int(seed, "MostPopular.seed", 0)
        self.reset()

    def reset(self) -> None:
        self._rng = np.random.default_rng(self.seed)
        self.counts = np.zeros(self.num_items)
        self._last_ids: np.ndarray | None = None
        self._chose_unknown()

    def candidate_scores(self, obs: dict[str, np.ndarray],
                         info: dict[str, Any] | None = None) -> np.ndarray:
        """The (decayed) count of every candidate ``(N, C)``."""
        n = batch_size(obs, info, "MostPopular")
        ids = candidate_ids(info, n, "MostPopular")
        self._last_ids = ids
        return self.counts[ids]

    def recommend(self, obs: dict[str, np.ndarray], info: dict[str, Any] | None = None) -> np.ndarray:
        scores = self.candidate_scores(obs, info)
        self._chose_ranking(scores)
        return rank_random_ties(scores, self.slate_size, self._rng)

    def update(self, obs: dict[str, np.ndarray], slates: np.ndarray, response: Any,
               reward: np.ndarray, info: dict[str, Any] | None = None) -> None:
        shown, value = positive_feedback(slates, response, info, self._last_ids, self.signal,
                                         "MostPopular")
        if self.decay != 1.0:
            self.counts *= self.decay
        self.counts += np.bincount(shown.ravel(), value.ravel(), minlength=self.num_items)
