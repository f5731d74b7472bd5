"""Per-topic satiation (boredom) that builds with consumption and recovers with time."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from recarena.simulators.records import Items, UserBatch
from recarena.validation import check_float

__all__ = ["Satiation"]


@dataclass(frozen=True)
class Satiation:
    """Satiation dynamics of rebounding bandits (Leqi et al. 2021, "Rebounding Bandits for
    Modeling Satiation Effects", NeurIPS).

    Each user has a satiation level ``s_t`` per topic. Every step all levels recover
    geometrically and each consumed item adds ``increment`` to its topic:

        s_{t+1}[z] = recovery * s_t[z] + increment * (#items of topic z consumed at t)

    An item of topic ``z`` is scored ``affinity - strength * s_t[z]``, so repeating a topic
    lowers its click probability, and it rebounds after a rest.

    Args:
        recovery: ``gamma`` in [0, 1); the share of satiation kept after one step.
        increment: satiation added per consumed item (> 0).
        strength: ``lambda``, score penalty per unit of satiation (>= 0).
    """

    recovery: float = 0.8
    increment: float = 1.0
    strength: float = 0.3

    def __post_init__(self) -> None:
        check_float(self.recovery, "Satiation.recovery", 0.0, 1.0, high_open=True)
        check_float(self.increment, "Satiation.increment", 0.0, low_open=True)
        check_float(self.strength, "Satiation.strength", 0.0)

    def penalty(self, state: UserBatch, items: Items) -> np.ndarray:
        """Score penalty ``(N, K)`` of the given items."""
        rows = np.arange(state.size)[:, None]
        return self.strength * state.satiation[rows, items.topic]

    def update(self, state: UserBatch, items: Items, clicked: np.ndarray) -> None:
        state.satiation *= self.recovery
        rows, cols = np.nonzero(clicked)
        if rows.size:
            np.add.at(state.satiation, (rows, items.topic[rows, cols]), self.increment)
