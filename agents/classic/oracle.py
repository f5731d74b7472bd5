"""Reference upper bounds that read privileged truth (``info["oracle"]``)."""

from __future__ import annotations

import math
from itertools import combinations
from typing import Any

import numpy as np

from recarena.agents.base import ReportsPropensity
from recarena.errors import ConfigError
from recarena.simulators.users import TimeBudget
from recarena.validation import check_float, check_int

__all__ = ["GreedyOracle", "QualityAwareOracle", "QualityBonusOracle"]


def _oracle(info: dict[str, Any] | None, key: str) -> np.ndarray:
    if info is None or "oracle" not in info or key not in info["oracle"]:
        raise ConfigError("info['oracle']", None if info is None else sorted(info),
                          f"an info dict with info['oracle'][{key!r}] (oracle policies need privileged truth)")
    return np.atleast_2d(np.asarray(info["oracle"][key], dtype=np.float64))


class GreedyOracle(ReportsPropensity):
    """Myopic greedy on true affinity: the K candidates with the highest true score, best on
    top. A reference upper bound for immediate engagement, not a learnable policy.
    Deterministic: its propensities are 1 for the slate it chose."""

    name = "greedy_oracle"
    is_oracle = True

    def __init__(self, slate_size: int) -> None:
        self.slate_size = check_int(slate_size, "GreedyOracle.slate_size", 1)

    def reset(self) -> None:
        self._chose_unknown()

    def recommend(self, obs: dict[str, np.ndarray], info: dict[str, Any] | None = None) -> np.ndarray:
        scores = _oracle(info, "scores")
        slates = np.argsort(-scores, axis=1, kind="stable")[:, : self.slate_size]
        self._chose_fixed(slates)
        return slates


class QualityBonusOracle(ReportsPropensity):
    """Greedy on ``true score + quality_weight * quality``: a hand-written policy that gives
    up some immediate engagement for item quality (RecSim's long-term-satisfaction
    "kale" trade-off). With ``quality_weight = 0`` it is :class:`GreedyOracle`. A reference
    baseline that reads privileged truth, not a learnable policy. Deterministic
    (propensity 1 for the slate it chose)."""

    name = "quality_bonus_oracle"
    is_oracle = True

    def __init__(self, slate_size: int, quality_weight: float = 1.0) -> None:
        self.slate_size = check_int(slate_size, "QualityBonusOracle.slate_size", 1)
        self.quality_weight = check_float(quality_weight, "QualityBonusOracle.quality_weight")

    def reset(self) -> None:
        self._chose_unknown()

    def recommend(self, obs: dict[str, np.ndarray], info: dict[str, Any] | None = None) -> np.ndarray:
        value = _oracle(info, "scores") + self.quality_weight * _oracle(info, "quality")
        slates = np.argsort(-value, axis=1, kind="stable")[:, : self.slate_size]
        self._chose_fixed(slates)
        return slates


class QualityAwareOracle(ReportsPropensity):
    """Greedy on the long-run rate of reward per minute of budget (a renewal-reward argument).

    With a time budget B, a session's return is about ``B * E[watch] / E[budget spent]``
    per step. For every candidate slate (all K-subsets) this oracle computes, from the true
    scores and qualities and the env's choice model and :class:`TimeBudget`,

        E[watch] = sum_k p_k * len_k
        E[spent] = sum_k p_k * len_k * (1 - refund_rate * (uqf * s_k + dqf * q_k))
                   + (1 - sum_k p_k) * step_penalty

    and shows the slate with the largest ratio, higher scores on top. It trades immediate
    clicks for quality that extends the session. Deterministic (propensity 1 for the
    slate it chose).

    Args:
        choice_model: the env's choice model (``click_probabilities(scores)``).
        budget: the env's time budget parameters.
        slate_size: K.
        num_candidates: C (all K-subsets of C are enumerated; at most 50,000 of them).
    """

    name = "quality_oracle"
    is_oracle = True

    def __init__(self, choice_model: Any, budget: TimeBudget, slate_size: int,
                 num_candidates: int) -> None:
        if not hasattr(choice_model, "click_probabilities"):
            raise ConfigError("QualityAwareOracle.choice_model", choice_model,
                              "a choice model with click_probabilities()")
        if not isinstance(budget, TimeBudget):
            raise ConfigError("QualityAwareOracle.budget", budget, "a TimeBudget")
        self.choice_model = choice_model
        self.budget = budget
        self.slate_size = check_int(slate_size, "QualityAwareOracle.slate_size", 1)
        num_candidates = check_int(num_candidates, "QualityAwareOracle.num_candidates",
                                   self.slate_size)
        count = math.comb(num_candidates, self.slate_size)
        if count > 50_000:
            raise ConfigError("QualityAwareOracle.num_candidates", num_candidates,
                              f"at most 50,000 slates to enumerate (C choose K is {count:,})")
        self._combos = np.array(list(combinations(range(num_candidates), self.slate_size)))

    @classmethod
    def from_env(cls, env: Any) -> QualityAwareOracle:
        """Build from a recarena env (reads its configuration, not its state)."""
        if not cls.fits(env):
            raise ConfigError("QualityAwareOracle env", env,
                              "a slate-world env (a SlateEnvConfig) whose users have a TimeBudget")
        cfg = env.unwrapped.config
        return cls(cfg.user_model.choice, cfg.user_model.budget, cfg.slate_size,
                   cfg.candidates.num_candidates)

    @staticmethod
    def fits(env: Any) -> bool:
        """Whether :meth:`from_env` can build the oracle for ``env``: its configuration
        has a user model with a time budget (the slate-world families)."""
        user_model = getattr(getattr(env.unwrapped, "config", None), "user_model", None)
        return getattr(user_model, "budget", None) is not None

    def reset(self) -> None:
        self._chose_unknown()

    def recommend(self, obs: dict[str, np.ndarray], info: dict[str, Any] | None = None) -> np.ndarray:
        scores, quality, length = (_oracle(info, k) for k in ("scores", "quality", "length"))
        b = self.budget
        combos = self._combos
        out = np.empty((scores.shape[0], self.slate_size), dtype=np.int64)
        for n in range(scores.shape[0]):
            s, q, ln = scores[n][combos], quality[n][combos], length[n][combos]
            p = self.choice_model.click_probabilities(s)
            watch = (p * ln).sum(axis=1)
            utility = b.user_quality_factor * s + b.document_quality_factor * q
            spent = (p * ln * (1.0 - b.refund_rate * utility)).sum(axis=1)
            spent += (1.0 - p.sum(axis=1)) * b.step_penalty
            rate = watch / np.maximum(spent, 1e-9)
            best = combos[int(np.argmax(rate))]
            out[n] = best[np.argsort(-scores[n][best], kind="stable")]
        self._chose_fixed(out)
        return out
