"""Protocols of the simulated world: what a choice model and a candidate source provide.

Runtime-checkable, so ``isinstance(obj, ChoiceModel)`` checks that the methods exist.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import numpy as np

from recarena.simulators.records import ChoiceOutcome, Items

__all__ = ["CandidateSource", "ChoiceModel"]


@runtime_checkable
class ChoiceModel(Protocol):
    """Maps per-position scores of a slate to clicks and examined positions."""

    def sample(self, scores: np.ndarray, rng: np.random.Generator) -> ChoiceOutcome:
        """Draw clicks for scores of shape ``(N, K)`` (position 0 is the top)."""
        ...

    def pattern_probabilities(self, scores: np.ndarray) -> np.ndarray:
        """Analytic probability of every click pattern, ``(N, 2**K)``.

        Pattern ``b`` has position ``k`` clicked when bit ``k`` of ``b`` is set.
        """
        ...


@runtime_checkable
class CandidateSource(Protocol):
    """Produces the candidate set each user sees at each step."""

    num_candidates: int
    feature_dim: int
    num_topics: int

    def sample(self, n: int, rng: np.random.Generator) -> Items:
        """Candidates for ``n`` users, shape ``(n, num_candidates)``."""
        ...

    def feature_bounds(self) -> tuple[float, float]:
        """Lower and upper bound of every feature value."""
        ...

    def quality_bounds(self) -> tuple[float, float]:
        """Lower and upper bound of item quality."""
        ...

    def max_length(self) -> float:
        """Upper bound of an item's length (minutes)."""
        ...
