"""Retention-v0: the return model against its analytic law, and the long-term trade-off."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from recarena.agents import GreedyOracle, QualityBonusOracle, evaluate
from recarena.envs.retention import retention_config
from recarena.errors import ConfigError
from recarena.simulators.records import UserBatch
from recarena.simulators.users import ReturnModel


def test_return_model_matches_its_analytic_law() -> None:
    """Churn is Bernoulli(sigmoid(b - s L)) and the gap Exponential(mean_gap exp(-g L))."""
    model = ReturnModel(memory_rate=1.0, churn_bias=-1.0, churn_sensitivity=1.0,
                        mean_gap=2.0, gap_sensitivity=0.5)
    n = 40_000
    state = UserBatch.zeros(n, 1, 1, 0)
    model.init(state)
    quality = np.where(np.arange(n) < n // 2, -1.0, 1.5)  # two groups of users
    state.session_quality[:] = quality
    state.session_consumed[:] = 1
    end = model.end_sessions(state, np.ones(n, dtype=bool), np.random.default_rng(0))
    np.testing.assert_allclose(state.long_term, quality)  # memory_rate 1: L = q
    for lt in (-1.0, 1.5):
        group = quality == lt
        p = 1.0 / (1.0 + np.exp(-(-1.0 - lt)))
        churned = int(end.churned[group].sum())
        assert stats.binomtest(churned, int(group.sum()), p).pvalue > 1e-3
        gaps = end.gap[group & ~end.churned]
        assert stats.kstest(gaps, "expon", args=(0, 2.0 * np.exp(-0.5 * lt))).pvalue > 1e-3
    assert np.all(np.isinf(end.gap[end.churned]))
    assert np.all(state.sessions == 1 + ~end.churned)


def test_a_session_without_consumption_counts_as_empty_quality() -> None:
    model = ReturnModel(memory_rate=0.5, empty_session_quality=-2.0)
    state = UserBatch.zeros(3, 1, 1, 0)
    model.init(state)
    model.end_sessions(state, np.array([True, False, True]), np.random.default_rng(0))
    np.testing.assert_allclose(state.long_term, [-1.0, 0.0, -1.0])


def test_engagement_greedy_wins_early_and_loses_the_month() -> None:
    """The ordering the env exists for, at a fixed seed and size (paired users)."""
    users = 400
    greedy = evaluate(GreedyOracle(2), "recarena/Retention-v0", users=users, seed=0)
    kale = evaluate(QualityBonusOracle(2, 1.0), "recarena/Retention-v0", users=users,
                          seed=0)

    def paired_ci(col: str) -> tuple[float, float]:
        diff = greedy[col].to_numpy() - kale[col].to_numpy()
        half = 1.96 * diff.std(ddof=1) / np.sqrt(users)
        return diff.mean() - half, diff.mean() + half

    low, _ = paired_ci("return_first_session")
    assert low > 0, "the clickbait-first policy should win the first session"
    _, high = paired_ci("return")
    assert high < 0, "and lose over the 30 days"
    _, high = paired_ci("return_by_day_7")
    assert high < 0
    assert greedy["terminated"].mean() > kale["terminated"].mean() + 0.2  # churn
    assert greedy["sessions"].mean() < kale["sessions"].mean()


def test_retention_reward_is_minus_the_return_gap() -> None:
    import gymnasium as gym

    env = gym.make("recarena/Retention-v0", engagement_weight=0.0, retention_weight=1.0)
    env.reset(seed=3)
    env.action_space.seed(3)
    seen = 0
    for _ in range(2000):
        _, reward, term, trunc, info = env.step(env.action_space.sample())
        if info["session_ended"]:
            seen += 1
            assert reward == pytest.approx(-min(info["return_gap"], 30.0))
        else:
            assert reward == 0.0 and "return_gap" not in info
        if term or trunc:
            env.reset()
    assert seen > 20


@pytest.mark.parametrize("change,field", [
    ({"horizon_days": 10.0}, "horizon_days"),
    ({"observe": ("calendar",)}, "observe"),
    ({"reward_weights": {"retention": 1.0}}, "reward_weights"),
])
def test_retention_options_need_a_return_model(change: dict, field: str) -> None:
    import dataclasses

    cfg = retention_config()
    no_returns = dataclasses.replace(cfg.user_model, retention=None)
    with pytest.raises(ConfigError, match=field):
        cfg.replace(user_model=no_returns, horizon_days=None, observe=("response",),
                    reward_weights={"watch_time": 1.0}).replace(**change)


@pytest.mark.parametrize("kwargs,field", [
    ({"memory_rate": 0.0}, "memory_rate"),
    ({"mean_gap": -1.0}, "mean_gap"),
    ({"gap_sensitivity": -0.1}, "gap_sensitivity"),
    ({"churn_sensitivity": float("nan")}, "churn_sensitivity"),
])
def test_return_model_bad_inputs(kwargs: dict, field: str) -> None:
    with pytest.raises(ConfigError, match=field):
        ReturnModel(**kwargs)
