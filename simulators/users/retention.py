"""Across sessions: long-term satisfaction, return gaps and churn."""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from recarena.simulators.kernels import row_sum
from recarena.simulators.records import Items, UserBatch
from recarena.validation import check_float

__all__ = ["ReturnModel", "SessionEnd"]


class SessionEnd(NamedTuple):
    """What happened to the users whose session just ended (arrays over those users).

    Attributes:
        rows: int ``(M,)``; the users (row indices).
        churned: bool ``(M,)``; the user never comes back.
        gap: float64 ``(M,)``; days until the next session (``inf`` where churned).
    """

    rows: np.ndarray
    churned: np.ndarray
    gap: np.ndarray


@dataclass(frozen=True)
class ReturnModel:
    """When (and whether) a user comes back after a session.

    The retention process of KuaiSim's retention task and of RLUR (Cai et al. 2023,
    "Reinforcing User Retention in a Billion Scale Short Video Recommender System"), where
    the signal is the time until the user's next visit, driven here by a long-term
    satisfaction in the spirit of RecSim's long_term_satisfaction (Ie et al. 2019):
    consuming good ("kale") items builds it, trashy ("chocolate") items erode it.

    At the end of a session with mean consumed quality ``q`` (``empty_session_quality`` if
    nothing was consumed), long-term satisfaction ``L`` moves as

        L <- (1 - memory_rate) * L + memory_rate * q

    then the user churns with probability ``sigmoid(churn_bias - churn_sensitivity * L)``,
    and otherwise returns after

        gap ~ Exponential(mean = mean_gap * exp(-gap_sensitivity * L))   days,

    so satisfied users come back sooner and unsatisfied ones later or never.

    Args:
        memory_rate: weight of the last session in ``L`` (in (0, 1]).
        empty_session_quality: the ``q`` of a session where nothing was consumed.
        mean_gap: mean return gap in days at ``L = 0``.
        gap_sensitivity: how strongly ``L`` shortens the gap.
        churn_bias, churn_sensitivity: the churn logit at ``L = 0`` and its slope.
        initial_long_term: ``L`` of a new user.
    """

    memory_rate: float = 0.3
    empty_session_quality: float = -1.0
    mean_gap: float = 2.0
    gap_sensitivity: float = 0.6
    churn_bias: float = -4.0
    churn_sensitivity: float = 1.2
    initial_long_term: float = 0.0

    def __post_init__(self) -> None:
        check_float(self.memory_rate, "ReturnModel.memory_rate", 0.0, 1.0, low_open=True)
        check_float(self.empty_session_quality, "ReturnModel.empty_session_quality")
        check_float(self.mean_gap, "ReturnModel.mean_gap", 0.0, low_open=True)
        check_float(self.gap_sensitivity, "ReturnModel.gap_sensitivity", 0.0)
        check_float(self.churn_bias, "ReturnModel.churn_bias", -50.0, 50.0)
        check_float(self.churn_sensitivity, "ReturnModel.churn_sensitivity", 0.0)
        check_float(self.initial_long_term, "ReturnModel.initial_long_term", -10.0, 10.0)

    def init(self, state: UserBatch) -> None:
        state.long_term[:] = self.initial_long_term

    def consume(self, state: UserBatch, items: Items, clicked: np.ndarray) -> None:
        """Add this request's consumption to the session's tally."""
        state.session_quality += row_sum(np.where(clicked, items.quality, 0.0))
        state.session_consumed += row_sum(clicked)

    def churn_probability(self, long_term: np.ndarray) -> np.ndarray:
        return 1.0 / (1.0 + np.exp(-(self.churn_bias - self.churn_sensitivity * long_term)))

    def mean_return_gap(self, long_term: np.ndarray) -> np.ndarray:
        return self.mean_gap * np.exp(-self.gap_sensitivity * long_term)

    def end_sessions(self, state: UserBatch, ended: np.ndarray,
                     rng: np.random.Generator) -> SessionEnd:
        """Close the sessions of users ``ended`` (bool ``(N,)``): update ``L``, draw churn
        and the return gap, and move their calendar to the next session. Two uniforms are
        drawn per user and step whether or not the session ended (common random numbers)."""
        u = rng.random((2, state.size))
        rows = np.flatnonzero(ended)
        consumed = state.session_consumed[rows]
        q = np.where(consumed > 0,
                     state.session_quality[rows] / np.maximum(consumed, 1),
                     self.empty_session_quality)
        lt = state.long_term[rows] * (1.0 - self.memory_rate) + self.memory_rate * q
        state.long_term[rows] = lt
        churned = u[0, rows] < self.churn_probability(lt)
        # inverse-CDF exponential draw; 1 - u is in (0, 1]
        gap = -np.log1p(-u[1, rows]) * self.mean_return_gap(lt)
        gap[churned] = np.inf
        state.day[rows] += gap
        state.last_gap[rows] = gap
        state.session_quality[rows] = 0.0
        state.session_consumed[rows] = 0
        state.sessions[rows] += ~churned
        return SessionEnd(rows, churned, gap)
