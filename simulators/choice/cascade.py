"""The cascade model of clicks (Craswell et al. 2008; Kveton et al. 2015)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from recarena.simulators.choice.base import AttractionLink, SingleChoiceMixin
from recarena.simulators.records import ChoiceOutcome
from recarena.validation import check_probability

__all__ = ["CascadeChoice"]


@dataclass(frozen=True)
class CascadeChoice(SingleChoiceMixin):
    """Cascade click model.

    Craswell, Zoeter, Taylor, Ramsey 2008, "An experimental comparison of click
    position-bias models"; Kveton, Szepesvari, Wen, Ashkan 2015, "Cascading Bandits".
    The user examines the slate top-down. At an examined position ``k`` they click with the
    attraction probability ``a_k = link(s_k)`` and stop; otherwise they go on to the next
    position with probability ``continuation`` (1 in the pure model) and stop otherwise.

        P(click k) = a_k * prod_{j<k} (1 - a_j) * continuation,
        P(examine k) = prod_{j<k} (1 - a_j) * continuation.

    Args:
        link: maps scores to attraction probabilities.
        continuation: probability of examining the next position after a non-click.
    """

    link: AttractionLink = field(default_factory=AttractionLink)
    continuation: float = 1.0

    def __post_init__(self) -> None:
        check_probability(self.continuation, "CascadeChoice.continuation")

    def examination_probabilities(self, scores: np.ndarray) -> np.ndarray:
        """``(N, K)`` probability that each position is examined."""
        a = self.link(scores)
        survive = (1.0 - a) * self.continuation
        out = np.ones_like(a)
        out[:, 1:] = np.cumprod(survive[:, :-1], axis=1)
        return out

    def choice_probabilities(self, scores: np.ndarray) -> np.ndarray:
        """``(N, K + 1)`` probabilities of clicking each position; last column: no click."""
        a = self.link(scores)
        p_click = self.examination_probabilities(scores) * a
        return np.concatenate([p_click, 1.0 - p_click.sum(axis=1, keepdims=True)], axis=1)

    def click_probabilities(self, scores: np.ndarray) -> np.ndarray:
        """Marginal click probability per position, ``(N, K)``."""
        return self.examination_probabilities(scores) * self.link(scores)

    def sample(self, scores: np.ndarray, rng: np.random.Generator) -> ChoiceOutcome:
        a = self.link(scores)
        n, k = a.shape
        attractive = rng.random((n, k)) < a
        stop = attractive
        if self.continuation < 1.0:
            stop = attractive | (rng.random((n, k)) >= self.continuation)
        examined = np.ones((n, k), dtype=bool)
        if k > 1:
            np.logical_and.accumulate(~stop[:, :-1], axis=1, out=examined[:, 1:])
        return ChoiceOutcome(examined & attractive, examined)
