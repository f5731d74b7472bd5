"""RecSim's multinomial proportional choice model with a no-click option."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from recarena.errors import ConfigError
from recarena.simulators.choice.base import SingleChoiceMixin, choose_from_masses
from recarena.simulators.kernels import smallest
from recarena.simulators.records import ChoiceOutcome
from recarena.validation import check_float

__all__ = ["ProportionalChoice"]


@dataclass(frozen=True)
class ProportionalChoice(SingleChoiceMixin):
    """Multinomial proportional choice (RecSim's ``MultinomialProportionalChoiceModel``).

    Ie et al. 2019, "RecSim: A Configurable Simulation Platform for Recommender Systems".
    The user picks at most one item; with ``w_k = s_k - min_normalizer`` and
    ``w_0 = no_click_mass - min_normalizer``:

        P(click k) = w_k / (w_0 + sum_j w_j),   P(no click) = w_0 / (w_0 + sum_j w_j).

    Position does not matter, and every position counts as examined.

    Args:
        no_click_mass: score of the no-click option (RecSim's interest_evolution uses 1.0).
        min_normalizer: offset (<= every score) that makes scores non-negative (RecSim: -1.0).
    """

    no_click_mass: float = 1.0
    min_normalizer: float = -1.0

    def __post_init__(self) -> None:
        check_float(self.no_click_mass, "ProportionalChoice.no_click_mass")
        check_float(self.min_normalizer, "ProportionalChoice.min_normalizer")
        if self.no_click_mass <= self.min_normalizer:
            raise ConfigError("ProportionalChoice.no_click_mass", self.no_click_mass,
                              f"a value > min_normalizer ({self.min_normalizer})")

    def _masses(self, scores: np.ndarray) -> np.ndarray:
        """``(N, K + 2)`` masses: a zero column, ``s_k - min_normalizer``, the no-click mass."""
        n, k = scores.shape
        if scores.size and not smallest(scores) >= self.min_normalizer:  # (NaN fails too)
            raise ConfigError("ProportionalChoice scores", scores,
                              f"scores >= min_normalizer ({self.min_normalizer}), none NaN")
        w = np.zeros((n, k + 2))
        np.subtract(scores, self.min_normalizer, out=w[:, 1:k + 1])
        w[:, k + 1] = self.no_click_mass - self.min_normalizer
        return w

    def choice_probabilities(self, scores: np.ndarray) -> np.ndarray:
        """``(N, K + 1)`` probabilities of clicking each position; last column: no click."""
        w = self._masses(scores)[:, 1:]
        w /= w.sum(axis=1, keepdims=True)
        return w

    def sample(self, scores: np.ndarray, rng: np.random.Generator) -> ChoiceOutcome:
        return choose_from_masses(self._masses(scores), rng)  # no need to normalise

