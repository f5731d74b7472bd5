"""The position-based click model (PBM)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from recarena.errors import ConfigError
from recarena.simulators.choice.base import AttractionLink, all_patterns
from recarena.simulators.core import ChoiceOutcome, as_float_tuple

__all__ = ["PositionBasedChoice"]


@dataclass(frozen=True)
class PositionBasedChoice:
    """Position-based model: examination depends only on the rank, clicks are independent.

    Richardson, Dominowska, Ragno 2007; Craswell et al. 2008; Chuklin, Markov, de Rijke 2015,
    "Click Models for Web Search". Position ``k`` is examined with probability
    ``theta_k`` (``examination``), independently of the others; an examined item is clicked
    with its attraction ``a_k = link(s_k)``:

        P(click k) = theta_k * a_k, independently across positions.

    Args:
        examination: ``theta``, one probability per rank (length >= slate size).
        link: maps scores to attraction probabilities.
    """

    examination: tuple[float, ...] = (1.0, 0.75, 0.55, 0.42, 0.33, 0.27, 0.22, 0.18, 0.15, 0.13)
    link: AttractionLink = field(default_factory=AttractionLink)

    def __post_init__(self) -> None:
        theta = as_float_tuple(self.examination, "PositionBasedChoice.examination", low=0.0, high=1.0)
        if theta.size == 0:
            raise ConfigError("PositionBasedChoice.examination", self.examination,
                              "at least one examination probability")
        object.__setattr__(self, "examination", tuple(float(t) for t in theta))
        object.__setattr__(self, "_theta", theta)

    def _theta_for(self, k: int) -> np.ndarray:
        theta: np.ndarray = self._theta  # type: ignore[attr-defined]
        if k > theta.size:
            raise ConfigError("PositionBasedChoice.examination", self.examination,
                              f"at least {k} probabilities for a slate of size {k}")
        return theta[:k]

    def click_probabilities(self, scores: np.ndarray) -> np.ndarray:
        """Marginal click probability per position, ``(N, K)``."""
        return self._theta_for(scores.shape[1])[None, :] * self.link(scores)

    def sample(self, scores: np.ndarray, rng: np.random.Generator) -> ChoiceOutcome:
        n, k = scores.shape
        theta = self._theta_for(k)
        a = self.link(scores)
        examined = rng.random((n, k)) < theta[None, :]
        clicked = examined & (rng.random((n, k)) < a)
        return ChoiceOutcome(clicked, examined)

    def pattern_probabilities(self, scores: np.ndarray) -> np.ndarray:
        p = self.click_probabilities(scores)  # (N, K)
        pat = all_patterns(scores.shape[1])  # (P, K)
        return np.prod(np.where(pat[None], p[:, None, :], 1.0 - p[:, None, :]), axis=2)
