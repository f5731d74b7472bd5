"""Novelty-seeking propensity with a static per-user part and a per-session part."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from recarena.simulators.records import Items, UserBatch
from recarena.validation import check_float

__all__ = ["NoveltySeeking"]


@dataclass(frozen=True)
class NoveltySeeking:
    """Novelty-seeking intent (Li, Wang, Chi, Chen 2023, "Hierarchical Reinforcement
    Learning for Modeling User Novelty-Seeking Intent in Recommender Systems").

    That paper separates a user's static novelty-seeking trait from a dynamic, per-session
    intent. Here the static propensity is ``p_u ~ Beta(static_alpha, static_beta)``; at the
    start of each session the propensity in force is

        p_s = sigmoid(logit(p_u) + eps),   eps ~ Normal(0, session_std).

    An item is novel for the user when its topic is not among the topics of their last H
    consumed items. Its score changes by ``weight * (2 p_s - 1) * novel``: novelty seekers
    (``p_s > 1/2``) favour new topics, familiarity seekers avoid them.

    Args:
        static_alpha, static_beta: Beta prior of the static propensity (> 0).
        session_std: spread of the per-session deviation on the logit scale (>= 0).
        weight: size of the score change (>= 0).
    """

    static_alpha: float = 2.0
    static_beta: float = 2.0
    session_std: float = 0.75
    weight: float = 0.4

    def __post_init__(self) -> None:
        check_float(self.static_alpha, "NoveltySeeking.static_alpha", 0.0, low_open=True)
        check_float(self.static_beta, "NoveltySeeking.static_beta", 0.0, low_open=True)
        check_float(self.session_std, "NoveltySeeking.session_std", 0.0)
        check_float(self.weight, "NoveltySeeking.weight", 0.0)

    def init(self, state: UserBatch, rng: np.random.Generator) -> None:
        p = rng.beta(self.static_alpha, self.static_beta, size=state.size)
        state.novelty_static[:] = np.clip(p, 1e-6, 1 - 1e-6)
        self.start_session(state, np.ones(state.size, dtype=bool), rng)

    def start_session(self, state: UserBatch, mask: np.ndarray, rng: np.random.Generator) -> None:
        """Redraw the per-session propensity of the users in ``mask``."""
        eps = rng.normal(0.0, self.session_std, size=state.size)
        p = state.novelty_static
        logit = np.log(p) - np.log1p(-p) + eps
        state.novelty_session[mask] = (1.0 / (1.0 + np.exp(-logit)))[mask]

    def bonus(self, state: UserBatch, items: Items) -> np.ndarray:
        """Score change ``(N, K)`` of the given items."""
        seen = (items.topic[:, :, None] == state.history_topic[:, None, :]).any(axis=2)
        return (self.weight * (2.0 * state.novelty_session - 1.0))[:, None] * ~seen
