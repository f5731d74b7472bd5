"""The position-based click model (PBM)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from recarena.simulators.choice.base import (
    AttractionLink,
    all_patterns,
    first_ranks,
    per_rank_probabilities,
)
from recarena.simulators.records import ChoiceOutcome

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
        arr = per_rank_probabilities(self.examination, "PositionBasedChoice.examination")
        object.__setattr__(self, "examination", tuple(float(t) for t in arr))
        object.__setattr__(self, "_theta", arr)

    def _theta_for(self, k: int) -> np.ndarray:
        return first_ranks(self._theta, k, "PositionBasedChoice.examination", self.examination)  # type: ignore[attr-defined]

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
