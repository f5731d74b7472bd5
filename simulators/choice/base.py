"""Shared pieces of the click/choice models: attraction links and pattern enumeration."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from recarena.errors import ConfigError
from recarena.simulators.kernels import constant, row_cumsum
from recarena.simulators.records import ChoiceOutcome
from recarena.validation import check_choice, check_float, check_float_vector

__all__ = [
    "AttractionLink",
    "SingleChoiceMixin",
    "all_patterns",
    "choose_from_masses",
    "per_rank_probabilities",
    "sample_single_choice",
    "single_choice_patterns",
]


@dataclass(frozen=True)
class AttractionLink:
    """Maps a user's score of an item to an attraction (click-if-examined) probability.

    ``kind="identity"``: the scores already are probabilities in [0, 1] (e.g. Cascade-v0's
    fixed attraction weights). ``kind="sigmoid"``: ``a = 1 / (1 + exp(-(s - offset) / temperature))``.
    ``kind="linear"``: RecSim's proportional cascade, ``a = clip(scaling * (s - min_normalizer), 0, 1)``.
    """

    kind: str = "sigmoid"
    temperature: float = 0.25
    offset: float = 0.0
    scaling: float = 0.5
    min_normalizer: float = -1.0

    def __post_init__(self) -> None:
        check_choice(self.kind, "AttractionLink.kind", ("identity", "sigmoid", "linear"))
        check_float(self.temperature, "AttractionLink.temperature", 0.0, low_open=True)
        check_float(self.offset, "AttractionLink.offset")
        check_float(self.scaling, "AttractionLink.scaling", 0.0, low_open=True)
        check_float(self.min_normalizer, "AttractionLink.min_normalizer")

    def __call__(self, scores: np.ndarray) -> np.ndarray:
        if self.kind == "sigmoid":
            return 1.0 / (1.0 + np.exp(-(scores - self.offset) / self.temperature))
        if self.kind == "linear":
            return np.clip(self.scaling * (scores - self.min_normalizer), 0.0, 1.0)
        if scores.size and (scores.min() < 0.0 or scores.max() > 1.0):
            raise ConfigError("AttractionLink(kind='identity') scores", scores,
                              "probabilities in [0, 1]; use kind='sigmoid' or 'linear' for raw scores")
        return scores


def all_patterns(k: int) -> np.ndarray:
    """Every click pattern of a slate of size ``k`` as a bool array ``(2**k, k)``.

    Row ``b`` has position ``j`` clicked when bit ``j`` of ``b`` is set.
    """
    b = np.arange(2**k)[:, None]
    return ((b >> np.arange(k)[None, :]) & 1).astype(bool)


def single_choice_patterns(choice_probs: np.ndarray) -> np.ndarray:
    """Pattern probabilities ``(N, 2**K)`` of a model that clicks at most once.

    Args:
        choice_probs: ``(N, K + 1)``; probability of clicking each position, last column no click.
    """
    n, k1 = choice_probs.shape
    k = k1 - 1
    out = np.zeros((n, 2**k))
    out[:, 0] = choice_probs[:, k]
    out[:, 1 << np.arange(k)] = choice_probs[:, :k]
    return out


def sample_single_choice(choice_probs: np.ndarray, rng: np.random.Generator) -> ChoiceOutcome:
    """Draw one choice per user from ``(N, K + 1)`` non-negative masses, proportional to the
    probabilities (they need not sum to 1; last column: no click).

    Every position counts as examined (the models that use this have no examination step).
    """
    n, k1 = choice_probs.shape
    masses = np.empty((n, k1 + 1))
    masses[:, 0] = 0.0
    masses[:, 1:] = choice_probs
    return choose_from_masses(masses, rng)


def choose_from_masses(masses: np.ndarray, rng: np.random.Generator) -> ChoiceOutcome:
    """The sampler behind :func:`sample_single_choice`, on masses laid out as
    ``(N, K + 2)``: a zero column, the K positions, the no-click mass.

    One uniform ``u`` per user, scaled by the total mass, picks position ``k`` iff
    ``cum[k-1] <= u < cum[k]`` (``cum``: masses summed in slate order, sequentially, so the
    same masses give the same choices at any batch size). With non-negative masses
    ``u >= cum`` is true on a prefix of each row, and the chosen position is where it
    turns false: the exclusive-or of neighbours.
    """
    n, k2 = masses.shape
    cum = row_cumsum(masses)  # cum[:, j]: mass before position j
    u = rng.random((n, 1)) * cum[:, -1:]
    below = u >= cum[:, :-1]
    # every position counts as examined: a fresh copy of the cached all-True array
    return ChoiceOutcome(below[:, :-1] ^ below[:, 1:], constant(True, (n, k2 - 2), bool).copy())


def per_rank_probabilities(values: tuple[float, ...], field: str) -> np.ndarray:
    """Validate a per-rank probability vector (e.g. PBM's examination, DCM's continuation)."""
    arr = check_float_vector(values, field, low=0.0, high=1.0)
    if arr.size == 0:
        raise ConfigError(field, values, "at least one probability")
    return arr


def first_ranks(arr: np.ndarray, k: int, field: str, values: tuple[float, ...]) -> np.ndarray:
    """The first ``k`` entries of a per-rank vector, or ``ConfigError`` if it is too short."""
    if k > arr.size:
        raise ConfigError(field, values, f"at least {k} probabilities for a slate of size {k}")
    return arr[:k]


class SingleChoiceMixin:
    """Methods shared by models that click at most once per slate; a subclass defines
    ``choice_probabilities(scores) -> (N, K + 1)`` (last column: no click)."""

    def choice_probabilities(self, scores: np.ndarray) -> np.ndarray:  # pragma: no cover
        raise NotImplementedError

    def click_probabilities(self, scores: np.ndarray) -> np.ndarray:
        """Marginal click probability per position, ``(N, K)``."""
        return self.choice_probabilities(scores)[:, :-1]

    def sample(self, scores: np.ndarray, rng: np.random.Generator) -> ChoiceOutcome:
        return sample_single_choice(self.choice_probabilities(scores), rng)

    def pattern_probabilities(self, scores: np.ndarray) -> np.ndarray:
        return single_choice_patterns(self.choice_probabilities(scores))
