"""When a session ends: RecSim's time budget and a satisfaction-collapse leave model."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from recarena.errors import ConfigError
from recarena.simulators.kernels import row_any, row_sum
from recarena.simulators.records import Items, UserBatch
from recarena.validation import check_float

__all__ = ["SatisfactionLeave", "TimeBudget"]


@dataclass(frozen=True)
class TimeBudget:
    """RecSim's session time budget (Ie et al. 2019, interest_evolution ``update_state``).

    The user starts with ``initial`` minutes. A step with no click costs ``step_penalty``.
    Each clicked item costs its watch time and refunds part of it according to the utility
    received:

        utility = user_quality_factor * score + document_quality_factor * quality
        budget <- budget - watch_time + refund_rate * watch_time * utility

    The user leaves when the budget reaches 0. RecSim's interest_evolution uses
    ``initial=200, step_penalty=0.5, refund_rate=0.9/3.4, user_quality_factor=0,
    document_quality_factor=1``: good content extends the session, trash shortens it.
    """

    initial: float = 200.0
    step_penalty: float = 0.5
    refund_rate: float = 0.9 / 3.4
    user_quality_factor: float = 0.0
    document_quality_factor: float = 1.0
    #: spread of the initial budget across users: ``initial * exp(initial_log_std * z)``,
    #: ``z ~ N(0, 1)`` (a log-normal with median ``initial``); 0 = every user the same
    initial_log_std: float = 0.0

    def __post_init__(self) -> None:
        check_float(self.initial, "TimeBudget.initial", 0.0, low_open=True)
        check_float(self.initial_log_std, "TimeBudget.initial_log_std", 0.0, 5.0)
        check_float(self.step_penalty, "TimeBudget.step_penalty", 0.0)
        check_float(self.refund_rate, "TimeBudget.refund_rate", 0.0)
        check_float(self.user_quality_factor, "TimeBudget.user_quality_factor")
        check_float(self.document_quality_factor, "TimeBudget.document_quality_factor")
        # the step's penalty by "clicked anything": [no click, a click]
        object.__setattr__(self, "_penalties", np.array([float(self.step_penalty), 0.0]))

    def init(self, state: UserBatch, rng: np.random.Generator | None = None) -> None:
        if self.initial_log_std > 0.0:
            if rng is None:
                raise ConfigError("TimeBudget.init rng", None, "a Generator when initial_log_std > 0")
            z = rng.standard_normal(state.budget.shape)
            state.budget[:] = self.initial * np.exp(self.initial_log_std * z)
        else:  # no draw: envs without a spread keep their random streams unchanged
            state.budget[:] = self.initial

    def update(self, state: UserBatch, items: Items, clicked: np.ndarray,
               watch_time: np.ndarray, scores: np.ndarray) -> None:
        utility = items.quality
        if self.document_quality_factor != 1.0:
            utility = self.document_quality_factor * utility
        if self.user_quality_factor:
            utility = utility + self.user_quality_factor * scores
        # watch_time is 0 wherever nothing was clicked
        change = row_sum((self.refund_rate * utility - 1.0) * watch_time)
        # minus the step penalty where nothing was clicked
        penalty = self._penalties.take(row_any(clicked))  # type: ignore[attr-defined]
        state.budget += change - penalty

    def has_left(self, state: UserBatch) -> np.ndarray:
        return state.budget <= 0.0


@dataclass(frozen=True)
class SatisfactionLeave:
    """Running satisfaction; the user leaves when it collapses.

    In the spirit of KuaiSim's user-leave module (Zhao et al. 2023, "KuaiSim: A Comprehensive
    Simulator for Recommender Systems"), where a user's patience is worn down by unsatisfying
    requests. Each step the user experiences

        u_t = sum over clicked items of (quality_weight * quality + affinity_weight * score)
        u_t = no_click_utility                                    if nothing was clicked

    and satisfaction follows ``s <- (1 - rate) * s + rate * u_t`` from ``initial``. The
    user leaves once ``s < threshold``.
    """

    initial: float = 1.0
    rate: float = 0.15
    quality_weight: float = 0.5
    affinity_weight: float = 1.0
    no_click_utility: float = -0.5
    threshold: float = 0.0

    def __post_init__(self) -> None:
        check_float(self.initial, "SatisfactionLeave.initial")
        check_float(self.rate, "SatisfactionLeave.rate", 0.0, 1.0, low_open=True)
        check_float(self.quality_weight, "SatisfactionLeave.quality_weight")
        check_float(self.affinity_weight, "SatisfactionLeave.affinity_weight")
        check_float(self.no_click_utility, "SatisfactionLeave.no_click_utility")
        check_float(self.threshold, "SatisfactionLeave.threshold")
        if self.threshold >= self.initial:
            raise ConfigError("SatisfactionLeave.threshold", self.threshold,
                              f"a value below initial ({self.initial})")

    def init(self, state: UserBatch) -> None:
        state.satisfaction[:] = self.initial

    def update(self, state: UserBatch, items: Items, clicked: np.ndarray,
               scores: np.ndarray) -> None:
        per_item = self.quality_weight * items.quality + self.affinity_weight * scores
        u = row_sum(np.where(clicked, per_item, 0.0))
        u = np.where(row_any(clicked), u, self.no_click_utility)
        state.satisfaction += self.rate * (u - state.satisfaction)

    def has_left(self, state: UserBatch) -> np.ndarray:
        return state.satisfaction < self.threshold
