"""The dependent click model (DCM): several clicks per slate."""

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

__all__ = ["DependentClickChoice"]


@dataclass(frozen=True)
class DependentClickChoice:
    """Dependent click model (Guo, Liu, Wang 2009, "Efficient multiple-click models in web search").

    The user examines the slate top-down. At an examined position ``k`` they click with
    attraction ``a_k = link(s_k)``. After a click they continue to the next position with
    probability ``lambda_k`` (``continuation``); after a non-click they always continue.
    For a click pattern ``c`` whose last click is at ``l``:

        P(c) = prod_{j<=l} a_j^{c_j} (1 - a_j)^{1 - c_j} * prod_{j<l, c_j} lambda_j
               * ((1 - lambda_l) + lambda_l * prod_{j>l} (1 - a_j)),

    and ``P(no click) = prod_j (1 - a_j)``.

    Args:
        continuation: ``lambda``, one probability per rank (length >= slate size).
        link: maps scores to attraction probabilities.
    """

    continuation: tuple[float, ...] = (0.6, 0.5, 0.45, 0.4, 0.35, 0.3, 0.3, 0.3, 0.3, 0.3)
    link: AttractionLink = field(default_factory=AttractionLink)

    def __post_init__(self) -> None:
        arr = per_rank_probabilities(self.continuation, "DependentClickChoice.continuation")
        object.__setattr__(self, "continuation", tuple(float(t) for t in arr))
        object.__setattr__(self, "_lambda", arr)

    def _lambda_for(self, k: int) -> np.ndarray:
        return first_ranks(self._lambda, k, "DependentClickChoice.continuation", self.continuation)  # type: ignore[attr-defined]

    def click_probabilities(self, scores: np.ndarray) -> np.ndarray:
        """Marginal click probability per position, ``(N, K)``."""
        a = self.link(scores)
        lam = self._lambda_for(a.shape[1])
        survive = 1.0 - a * (1.0 - lam[None, :])
        exam = np.ones_like(a)
        exam[:, 1:] = np.cumprod(survive[:, :-1], axis=1)
        return exam * a

    def sample(self, scores: np.ndarray, rng: np.random.Generator) -> ChoiceOutcome:
        a = self.link(scores)
        n, k = a.shape
        lam = self._lambda_for(k)
        attractive = rng.random((n, k)) < a
        stop = attractive & (rng.random((n, k)) >= lam[None, :])
        examined = np.ones((n, k), dtype=bool)
        if k > 1:
            np.logical_and.accumulate(~stop[:, :-1], axis=1, out=examined[:, 1:])
        return ChoiceOutcome(examined & attractive, examined)

    def pattern_probabilities(self, scores: np.ndarray) -> np.ndarray:
        a = self.link(scores)
        n, k = a.shape
        lam = self._lambda_for(k)
        pats = all_patterns(k)
        out = np.empty((n, pats.shape[0]))
        for b, pat in enumerate(pats):
            if not pat.any():
                out[:, b] = np.prod(1.0 - a, axis=1)
                continue
            last = int(np.flatnonzero(pat)[-1])
            head = np.where(pat[None, : last + 1], a[:, : last + 1], 1.0 - a[:, : last + 1])
            p = np.prod(head, axis=1)
            p *= np.prod(lam[: last][pat[: last]])
            tail_no_click = np.prod(1.0 - a[:, last + 1:], axis=1)
            p *= (1.0 - lam[last]) + lam[last] * tail_no_click
            out[:, b] = p
        return out
