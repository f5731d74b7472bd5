"""Reference policies: their ordering on InterestEvolution and Retention, where each one
applies (typed errors), Slate-v0's exact slate search, and the evaluation loop."""

from __future__ import annotations

import time
from typing import Any

import gymnasium as gym
import numpy as np
import pandas as pd
import pytest

import recarena  # noqa: F401
from recarena.agents import (
    GreedyOracle,
    Policy,
    QualityAwareOracle,
    RandomPolicy,
    evaluate,
    make_policy,
    policy_entry,
)
from recarena.agents.classic.oracle import oracle_keys
from recarena.errors import ConfigError
from recarena.simulators.choice import MultinomialLogitChoice, ProportionalChoice
from recarena.simulators.users import TimeBudget


def _ci_low_high(x: np.ndarray) -> tuple[float, float]:
    half = 1.96 * x.std(ddof=1) / np.sqrt(len(x))
    return x.mean() - half, x.mean() + half


def test_policies_follow_the_protocol() -> None:
    """Not just the attribute names: on a batch of users each policy returns valid slates
    (shape (N, K), distinct candidates in range), the oracles pick what their rule says,
    and ``reset`` makes a seeded policy repeat itself."""
    env = gym.make("recarena/InterestEvolution-v0")
    vec = gym.make_vec("recarena/InterestEvolution-v0", num_envs=16,
                       vectorization_mode="vector_entry_point")
    obs, info = vec.reset(seed=0)
    n, c, k = 16, 10, 2
    scores = info["oracle"]["scores"]
    for p in (RandomPolicy(c, k, seed=4), GreedyOracle(k), QualityAwareOracle.from_env(env)):
        assert isinstance(p, Policy)
        assert isinstance(p.name, str) and p.name and isinstance(p.is_oracle, bool)
        slates = np.asarray(p.recommend(obs, info if p.is_oracle else None))
        assert slates.shape == (n, k) and np.issubdtype(slates.dtype, np.integer), p.name
        assert ((slates >= 0) & (slates < c)).all(), p.name
        assert (slates[:, 0] != slates[:, 1]).all(), f"{p.name} repeats a candidate"
        vec.step(slates)  # the env accepts them
        obs, info = vec.reset(seed=0)
    # the greedy oracle shows the k highest true scores, best first
    greedy = GreedyOracle(k).recommend(obs, info)
    np.testing.assert_array_equal(greedy, np.argsort(-scores, axis=1, kind="stable")[:, :k])
    # a seeded random policy repeats itself after reset and is not constant
    rnd = RandomPolicy(c, k, seed=4)
    first = rnd.recommend(obs)
    assert len({tuple(row) for row in first}) > 1
    rnd.reset()
    np.testing.assert_array_equal(rnd.recommend(obs), first)


def test_oracles_are_ordered_on_interest_evolution() -> None:
    """Paired over the same 120 users: quality-aware > myopic greedy > random.

    Greedy-on-affinity wins clicks early but serves trashy topics that drain the budget;
    the quality-aware oracle trades clicks for budget and gets far longer sessions. The
    users run as one vector env (a quarter of the time of 120 single-env episodes; the
    single-env path is tested below): the greedy - random difference is 4 to 8 standard
    errors over seeds 0, 1 and 100, quality - greedy about 30."""
    env = gym.make("recarena/InterestEvolution-v0")
    n, env_id = 120, "recarena/InterestEvolution-v0"
    rnd = evaluate(RandomPolicy(10, 2, seed=0), env_id, users=n, seed=100)["return"].to_numpy()
    greedy = evaluate(GreedyOracle(2), env_id, users=n, seed=100)["return"].to_numpy()
    quality = evaluate(QualityAwareOracle.from_env(env), env_id, users=n,
                       seed=100)["return"].to_numpy()
    assert len(rnd) == len(greedy) == len(quality) == n
    assert _ci_low_high(quality - greedy)[0] > 0
    assert _ci_low_high(greedy - rnd)[0] > 0


def test_evaluate_is_deterministic_and_paired() -> None:
    a = evaluate(RandomPolicy(10, 2, seed=1), "recarena/InterestEvolution-v0", episodes=5, seed=3)
    b = evaluate(RandomPolicy(10, 2, seed=1), "recarena/InterestEvolution-v0", episodes=5, seed=3)
    pd.testing.assert_frame_equal(a, b)
    assert list(a.columns) == ["episode", "seed", "user_id", "return", "clicks", "watch_time",
                               "length", "terminated"]
    # watch-time reward: return equals watch time
    np.testing.assert_allclose(a["return"], a["watch_time"])


def test_non_oracle_policies_never_see_oracle_info() -> None:
    seen = []

    class Spy(RandomPolicy):
        def recommend(self, obs, info=None):
            seen.append(info)
            return super().recommend(obs, info)

    evaluate(Spy(10, 2), "recarena/InterestEvolution-v0", episodes=2)
    evaluate(Spy(10, 2), "recarena/InterestEvolution-v0", users=3)
    assert seen and all("oracle" not in i for i in seen)
    assert all("candidate_ids" in i and "user_id" in i for i in seen)


def test_greedy_oracle_picks_highest_true_scores() -> None:
    info = {"oracle": {"scores": np.array([0.1, 0.9, -0.3, 0.5])}}
    np.testing.assert_array_equal(GreedyOracle(2).recommend({}, info), [[1, 3]])


# ------------------------------------------------ where each reference applies (issue 17)
@pytest.mark.parametrize("name, env_id, match", [
    ("quality_oracle", "recarena/LongTermSatisfaction-v0",
     r"QualityAwareOracle env: expected an env whose info\['oracle'\] has 'scores', 'quality', "
     r"'length' \(this one has no 'quality', 'length'.*received 'recarena/LongTermSatisfaction-v0'"),
    ("quality_oracle", "recarena/ShortVideo-v0",
     r"QualityAwareOracle env: .*no 'quality', 'length'.*received 'recarena/ShortVideo-v0'"),
    ("quality_oracle", "recarena/InterestExploration-v0",
     r"QualityAwareOracle env: .*received 'recarena/InterestExploration-v0'"),
    ("quality_oracle", "recarena/Cascade-v0",
     r"QualityAwareOracle env: expected an env whose users have a TimeBudget.*'recarena/Cascade-v0'"),
    ("quality_bonus_oracle", "recarena/LongTermSatisfaction-v0",
     r"QualityBonusOracle env: .*has 'scores', 'quality' \(this one has no 'quality'.*recarena "
     r"list policies.*'recarena/LongTermSatisfaction-v0'"),
    ("quality_bonus_oracle", "recarena/ShortVideo-v0",
     r"QualityBonusOracle env: .*no 'quality'.*'recarena/ShortVideo-v0'"),
])
def test_references_refuse_envs_without_what_they_read(name: str, env_id: str, match: str) -> None:
    """A typed error at build time, naming the env and what the policy reads, for an id, an
    env and a vector env (not an AttributeError, nor a failure inside ``evaluate``); the
    class's ``fits`` gives the same answer."""
    with pytest.raises(ConfigError, match=match):
        make_policy(name, env_id)
    vec = gym.make_vec(env_id, num_envs=2, vectorization_mode="vector_entry_point")
    for env in (gym.make(env_id), vec):
        with pytest.raises(ConfigError, match=match):
            make_policy(name, env)
        assert not policy_entry(name).cls.fits(env)


def test_the_applicability_check_leaves_the_env_alone() -> None:
    """The check reads a fresh copy of the env's core: the env's own users and streams go on
    as if it had not run."""
    env_id = "recarena/Retention-v0"
    a, b = gym.make(env_id), gym.make(env_id)
    a.reset(seed=3)
    b.reset(seed=3)
    assert oracle_keys(a) >= {"scores", "quality", "length", "long_term"}
    make_policy("quality_oracle", a)
    for _ in range(5):
        oa, ra, *_ = a.step(np.array([0, 1]))
        ob, rb, *_ = b.step(np.array([0, 1]))
        assert ra == rb
        for key in oa:
            np.testing.assert_array_equal(oa[key], ob[key])


def test_quality_oracle_plans_with_retention_dynamics() -> None:
    """Retention-v0's budget refunds nothing, so a budget-only plan is myopic clicks (the
    greedy oracle's slates); with the return model the oracle trades clicks for quality
    that brings users back. Paired over 100 users: quality - greedy is 270 to 310 (+- 33,
    95%) and quality - random 260 to 285 (+- 33) over seeds 0, 1 and 2. (It also beats the
    quality-bonus heuristic, by about 50 +- 20 at 200 users; not asserted here.)"""
    env_id = "recarena/Retention-v0"
    env = gym.make(env_id)
    oracle = make_policy("quality_oracle", env_id)
    assert oracle.retention is not None and oracle.horizon_days == 30.0
    # without the calendar the plan is the greedy one, slate for slate
    _, info = gym.make_vec(env_id, num_envs=64, vectorization_mode="vector_entry_point").reset(seed=1)
    budget_only = QualityAwareOracle.from_env(env, retention=None)
    np.testing.assert_array_equal(budget_only.recommend({}, info), GreedyOracle(2).recommend({}, info))
    assert not np.array_equal(oracle.recommend({}, info), GreedyOracle(2).recommend({}, info))
    n = 100
    quality = evaluate(oracle, env_id, users=n, seed=0)["return"].to_numpy()
    greedy = evaluate(GreedyOracle(2), env_id, users=n, seed=0)["return"].to_numpy()
    rnd = evaluate(RandomPolicy(10, 2, seed=0), env_id, users=n, seed=0)["return"].to_numpy()
    assert _ci_low_high(quality - greedy)[0] > 150
    assert _ci_low_high(quality - rnd)[0] > 150


def _instances(rng: np.random.Generator, n: int, c: int) -> dict:
    return {"oracle": {"scores": rng.uniform(-1.0, 1.0, (n, c)),
                       "quality": rng.uniform(-3.0, 3.0, (n, c)),
                       "length": rng.uniform(1.0, 5.0, (n, c))}}


@pytest.mark.parametrize("choice", [MultinomialLogitChoice(0.25, 0.0), ProportionalChoice(1.0, -1.0),
                                    MultinomialLogitChoice(1.0, None)])
def test_exact_slate_search_equals_enumeration(choice: Any) -> None:
    """Dinkelbach's exact search picks the slate that enumerating every K-subset picks, on
    random instances (refunds from quality and score) and on Slate-v0's own states."""
    rng = np.random.default_rng(0)
    budget = TimeBudget(step_penalty=1.0, refund_rate=0.9 / 3.4, user_quality_factor=0.3)
    for c, k in ((9, 3), (8, 4), (6, 6), (7, 1)):
        info = _instances(rng, 200, c)
        exact = QualityAwareOracle(choice, budget, k, c, search="exact")
        enum = QualityAwareOracle(choice, budget, k, c, search="enumerate")
        assert exact.search == "exact" and enum.search == "enumerate"
        np.testing.assert_array_equal(exact.recommend({}, info), enum.recommend({}, info))


def test_slate_v0_quality_oracle_is_exact_and_fast() -> None:
    """Slate-v0 (C=20, K=5: 15,504 slates) searched exactly: the same slates as enumeration
    on the env's states, and 100 users evaluate in a fraction of a second (enumeration took
    about half a second per user)."""
    env_id = "recarena/Slate-v0"
    vec = gym.make_vec(env_id, num_envs=8, vectorization_mode="vector_entry_point")
    exact = make_policy("quality_oracle", vec)
    enum = make_policy("quality_oracle", vec, search="enumerate")
    assert exact.search == "exact"
    obs, info = vec.reset(seed=0)
    for _ in range(3):
        slates = exact.recommend(obs, info)
        np.testing.assert_array_equal(slates, enum.recommend(obs, info))
        obs, _, _, _, info = vec.step(slates)
    t0 = time.perf_counter()
    evaluate(exact, env_id, users=100, seed=0)
    assert time.perf_counter() - t0 < 10.0


def test_exact_search_with_refunds_that_outweigh_costs() -> None:
    """Where a slate's expected spend is not positive (the session need not end), the
    exact search shows such a slate instead of dividing by it."""
    budget = TimeBudget(step_penalty=0.0, refund_rate=1.0)
    info = {"oracle": {"scores": np.array([[0.5, 0.1, -0.2, 0.3]]),
                       "quality": np.array([[2.0, -1.0, 0.0, 0.5]]),
                       "length": np.ones((1, 4))}}
    slate = QualityAwareOracle(MultinomialLogitChoice(0.5, 0.0), budget, 2, 4).recommend({}, info)
    assert slate.shape == (1, 2) and 0 in slate[0]  # the item whose refund exceeds its cost


def test_quality_oracle_search_argument() -> None:
    with pytest.raises(ConfigError, match=r"QualityAwareOracle.search: expected 'auto' or 'enumerate'"):
        make_policy("quality_oracle", "recarena/Retention-v0", search="exact")
    with pytest.raises(ConfigError, match=r"QualityAwareOracle.search: expected one of"):
        make_policy("quality_oracle", "recarena/Slate-v0", search="fast")
    with pytest.raises(ConfigError, match=r"at most 50,000 slates to enumerate"):
        make_policy("quality_oracle", "recarena/MovieLens-v0", search="enumerate")
    assert make_policy("quality_oracle", "recarena/MovieLens-v0").search == "exact"
