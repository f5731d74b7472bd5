"""Response signals beyond the click: watch time, like, share, follow."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from recarena.errors import ConfigError
from recarena.simulators.records import Items
from recarena.validation import check_choice, check_float

__all__ = ["LogisticSignal", "ResponseSignals"]


@dataclass(frozen=True)
class LogisticSignal:
    """A binary signal given a click: ``P = sigmoid(bias + quality_weight * quality + affinity_weight * score)``."""

    bias: float = -2.0
    quality_weight: float = 0.5
    affinity_weight: float = 1.0

    def __post_init__(self) -> None:
        check_float(self.bias, "LogisticSignal.bias")
        check_float(self.quality_weight, "LogisticSignal.quality_weight")
        check_float(self.affinity_weight, "LogisticSignal.affinity_weight")

    def probability(self, items: Items, scores: np.ndarray) -> np.ndarray:
        z = self.bias + self.quality_weight * items.quality + self.affinity_weight * scores
        return 1.0 / (1.0 + np.exp(-z))


@dataclass(frozen=True)
class ResponseSignals:
    """How a click turns into watch time, likes, shares and follows.

    Watch time (minutes), only for clicked items:

    * ``watch="full"`` (RecSim): the whole item, cut short by the remaining time budget:
      ``watch = min(length, budget)``.
    * ``watch="fraction"``: ``watch = length * F`` with ``F ~ Beta(m * kappa, (1 - m) * kappa)``
      and mean ``m = sigmoid(watch_bias + watch_quality_weight * quality + watch_affinity_weight * score)``,
      also capped by the budget when there is one.

    ``like``, ``share`` and ``follow`` are :class:`LogisticSignal` draws on clicked items,
    or ``None`` (the signal is always False and consumes no randomness). A follow is of the
    item's creator.
    """

    watch: str = "full"
    watch_bias: float = 0.0
    watch_quality_weight: float = 0.3
    watch_affinity_weight: float = 1.5
    watch_concentration: float = 4.0
    like: LogisticSignal | None = None
    share: LogisticSignal | None = None
    follow: LogisticSignal | None = None

    def __post_init__(self) -> None:
        check_choice(self.watch, "ResponseSignals.watch", ("full", "fraction"))
        check_float(self.watch_bias, "ResponseSignals.watch_bias")
        check_float(self.watch_quality_weight, "ResponseSignals.watch_quality_weight")
        check_float(self.watch_affinity_weight, "ResponseSignals.watch_affinity_weight")
        check_float(self.watch_concentration, "ResponseSignals.watch_concentration", 0.0,
                    low_open=True)
        for name in ("like", "share", "follow"):
            value = getattr(self, name)
            if value is not None and not isinstance(value, LogisticSignal):
                raise ConfigError(f"ResponseSignals.{name}", value, "a LogisticSignal or None")

    def sample(self, items: Items, clicked: np.ndarray, scores: np.ndarray,
               budget: np.ndarray | None, rng: np.random.Generator
               ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """``(watch_time, liked, shared, followed)``, each ``(N, K)``, for the clicks
        ``clicked`` on ``items`` (the :class:`~recarena.simulators.protocols.SignalModel`
        protocol). Draws in that order; an absent signal draws nothing and is all False."""
        watch = self.watch_time(items, clicked, scores, budget, rng)
        none = np.zeros(clicked.shape, dtype=bool)  # (one all-False array for absent signals)
        flags = [none if signal is None
                 else clicked & (rng.random(clicked.shape) < signal.probability(items, scores))
                 for signal in (self.like, self.share, self.follow)]
        return watch, flags[0], flags[1], flags[2]

    def watch_time(self, items: Items, clicked: np.ndarray, scores: np.ndarray,
                   budget: np.ndarray | None, rng: np.random.Generator) -> np.ndarray:
        if self.watch == "full":
            watch = items.length
        else:
            z = (self.watch_bias + self.watch_quality_weight * items.quality
                 + self.watch_affinity_weight * scores)
            m = np.clip(1.0 / (1.0 + np.exp(-z)), 1e-3, 1 - 1e-3)
            frac = rng.beta(m * self.watch_concentration, (1.0 - m) * self.watch_concentration)
            watch = items.length * frac
        if budget is not None:  # capped by the remaining budget; 0 where not clicked
            return np.minimum(watch, np.maximum(budget, 0.0)[:, None],
                              out=np.zeros(watch.shape), where=clicked)
        return watch * clicked.astype(np.float64)  # (a float product: mixed float * bool casts per call)
