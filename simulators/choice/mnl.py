"""Multinomial logit choice with a no-click option and a temperature."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from recarena.simulators.choice.base import SingleChoiceMixin
from recarena.validation import check_float

__all__ = ["MultinomialLogitChoice"]


@dataclass(frozen=True)
class MultinomialLogitChoice(SingleChoiceMixin):
    """Multinomial logit (conditional logit; McFadden 1974) over the slate plus "no click".

    The user picks at most one item:

        P(click k) = exp(s_k / tau) / (exp(c / tau) + sum_j exp(s_j / tau)),

    with ``c = no_click_score`` and ``tau = temperature``. With ``no_click_score=None``
    the user always clicks exactly one item. Every position counts as examined.

    Args:
        temperature: ``tau > 0``; small values make choices nearly deterministic.
        no_click_score: utility of not clicking, or ``None`` for no such option.
    """

    temperature: float = 1.0
    no_click_score: float | None = 0.0

    def __post_init__(self) -> None:
        check_float(self.temperature, "MultinomialLogitChoice.temperature", 0.0, low_open=True)
        if self.no_click_score is not None:
            check_float(self.no_click_score, "MultinomialLogitChoice.no_click_score")

    def choice_probabilities(self, scores: np.ndarray) -> np.ndarray:
        """``(N, K + 1)`` probabilities of clicking each position; last column: no click."""
        n, k = scores.shape
        logits = np.empty((n, k + 1))
        np.divide(scores, self.temperature, out=logits[:, :k])
        logits[:, k] = -np.inf if self.no_click_score is None else self.no_click_score / self.temperature
        logits -= logits.max(axis=1, keepdims=True)  # stability
        np.exp(logits, out=logits)
        logits /= logits.sum(axis=1, keepdims=True)
        return logits
