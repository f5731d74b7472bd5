"""The EventLogger wrappers write the runner's event log from any recarena env."""

from __future__ import annotations

from pathlib import Path

import gymnasium as gym
import numpy as np
import pandas as pd
import pytest

import recarena
from recarena.agents import make_policy
from recarena.agents.base import public_info
from recarena.envs.core import batch_info
from recarena.envs.wrappers import EventLogger, VectorEventLogger
from recarena.errors import ConfigError
from recarena.eventlog import IMPRESSION_COLUMNS, read_table
from recarena.scenarios import run_scenario, scenario_from_dict


def test_vector_logger_reproduces_the_runner_log(tmp_path: Path) -> None:
    spec = scenario_from_dict({
        "name": "n", "env": {"id": "recarena/Retention-v0"},
        "run": {"users": 8, "steps": 25, "seeds": [5]}, "policies": [{"name": "random"}],
        "log": {"snapshot_every": 5}, "report": {"plots": []}})
    run = run_scenario(spec, out=tmp_path / "run", quiet=True, report=False)
    envs = gym.make_vec("recarena/Retention-v0", num_envs=8,
                        vectorization_mode="vector_entry_point")
    policy = make_policy("random", envs)
    envs = VectorEventLogger(envs, tmp_path / "wrapped", run="n", policy="random", seed=5,
                             snapshot_every=5, propensity=policy)
    policy.reset()
    obs, info = envs.reset(seed=5)
    for _ in range(25):
        slates = policy.recommend(obs, public_info(info))
        obs, _, _, _, info = envs.step(slates)
    envs.close()
    for table in ("impressions", "snapshots"):
        pd.testing.assert_frame_equal(read_table(run / "units", table),
                                      read_table(tmp_path / "wrapped", table))
    ev = read_table(tmp_path / "wrapped")
    assert list(ev.columns[:len(IMPRESSION_COLUMNS)]) == list(IMPRESSION_COLUMNS)
    assert (ev["day"] > 0).any() and (ev["session_id"] > 0).any()  # the calendar is logged


@pytest.mark.parametrize("env_id", recarena.list_envs())
def test_single_env_logger_on_every_env(env_id: str, tmp_path: Path) -> None:
    env = EventLogger(recarena.make(env_id), tmp_path, policy="random", snapshot_every=3)
    env.reset(seed=1)
    rewards = []
    for _ in range(12):
        obs, reward, term, trunc, info = env.step(env.action_space.sample())
        rewards.append(reward)
        if term or trunc:
            env.reset()
    env.close()
    ev = read_table(tmp_path)
    k = env.unwrapped.core.slate_size
    assert len(ev) == 12 * k and ev["seed"].eq(1).all()
    assert ev["reward"].sum() == pytest.approx(sum(rewards))  # reward on position 0 rows
    assert "oracle_relevance" in ev.columns and len(read_table(tmp_path, "snapshots")) == 4
    np.testing.assert_array_equal(ev["position"].to_numpy()[:k], np.arange(k))


def test_logger_refuses_non_recarena_envs(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="a recarena env"):
        EventLogger(gym.make("CartPole-v1"), tmp_path)


# ----------------------------------------------------------------- propensities
def _run_single(env: gym.Env, folder: Path, agent, steps: int, label) -> pd.DataFrame:
    """Step a single env with the policy ``agent`` under an EventLogger given ``label``
    (the policy object or a name); the impressions."""
    logged = EventLogger(env, folder, policy=label, snapshot_every=0)
    obs, info = logged.reset(seed=0)
    for _ in range(steps):
        batch = {key: np.asarray(value)[None] for key, value in obs.items()}
        seen = batch_info(info if agent.is_oracle else public_info(info))
        slate = agent.recommend(batch, seen)[0]
        obs, _, term, trunc, info = logged.step(slate)
        if term or trunc:
            obs, info = logged.reset()
    logged.close()
    return read_table(folder)


def test_single_env_logger_logs_the_random_policys_propensities(tmp_path: Path) -> None:
    """The issue: EventLogger logged NaN for the uniformly random policy. Given the policy,
    it logs 1/C per position and (C - K)!/C! per slate; given only a label, NaN."""
    env = recarena.make("recarena/Slate-v0")  # C = 20, K = 5
    policy = make_policy("random", env)
    ev = _run_single(env, tmp_path / "a", policy, 30, policy)
    assert (ev["policy"] == "random").all()
    np.testing.assert_allclose(ev["propensity"], 1 / 20)
    np.testing.assert_allclose(ev["slate_propensity"], 1 / (20 * 19 * 18 * 17 * 16))
    ev = _run_single(recarena.make("recarena/Slate-v0"), tmp_path / "b", policy, 5,
                     "random")  # a label says nothing about probabilities
    assert ev["propensity"].isna().all() and ev["slate_propensity"].isna().all()


def test_a_deterministic_policy_logs_propensity_one(tmp_path: Path) -> None:
    env = recarena.make("recarena/InterestEvolution-v0")
    policy = make_policy("greedy_oracle", env)
    ev = _run_single(env, tmp_path, policy, 20, policy)
    assert (ev["propensity"] == 1.0).all() and (ev["slate_propensity"] == 1.0).all()


def test_logged_propensity_matches_the_random_policys_frequencies(tmp_path: Path) -> None:
    """Chi-squared: how often each item is at each position, and how often each ordered
    slate is shown, under the random policy, against what the log says their
    probabilities are (Cascade with 5 items and slates of 2: 20 ordered slates)."""
    from scipy import stats

    envs = gym.make_vec("recarena/Cascade-v0", num_envs=200, vectorization_mode="vector_entry_point",
                        num_items=5, slate_size=2, shuffle=False)
    policy = make_policy("random", envs)
    envs = VectorEventLogger(envs, tmp_path, policy=policy, snapshot_every=0)
    obs, info = envs.reset(seed=0)
    for _ in range(40):
        obs, _, _, _, info = envs.step(policy.recommend(obs, public_info(info)))
    envs.close()
    ev = read_table(tmp_path)
    slates = len(ev) // 2
    for pos in range(2):
        at = ev[ev["position"] == pos]
        observed = at["item_id"].value_counts().sort_index().to_numpy()
        expected = at.groupby("item_id")["propensity"].first().to_numpy() * slates
        assert len(observed) == 5 and expected.sum() == pytest.approx(slates)
        assert stats.chisquare(observed, expected).pvalue > 1e-3
    pairs = ev.pivot_table(index=["step", "user_id"], columns="position", values="item_id")
    prob = ev[ev["position"] == 0].set_index(["step", "user_id"])["slate_propensity"]
    keys = pairs[0] * 5 + pairs[1]
    observed = keys.value_counts().sort_index()
    expected = prob.groupby(keys).first().sort_index() * slates
    assert len(observed) == 20 and expected.sum() == pytest.approx(slates)
    assert stats.chisquare(observed.to_numpy(), expected.to_numpy()).pvalue > 1e-3


def test_the_runner_logs_every_policys_known_propensities(tmp_path: Path) -> None:
    spec = scenario_from_dict({
        "name": "p", "env": {"id": "recarena/Cascade-v0"},
        "run": {"users": 6, "steps": 15, "seeds": [0]},
        "policies": [{"name": "random"}, {"name": "greedy_oracle"},
                     {"name": "eps", "policy": "epsilon_greedy", "args": {"epsilon": 0.2}},
                     {"name": "thompson"}],
        "log": {"snapshot_every": 0}, "report": {"plots": []}})
    ev = read_table(run_scenario(spec, out=tmp_path / "run", quiet=True, report=False) / "units")
    by = {name: g for name, g in ev.groupby("policy")}
    np.testing.assert_allclose(by["random"]["propensity"], 1 / 16)
    np.testing.assert_allclose(by["random"]["slate_propensity"], 1 / (16 * 15 * 14 * 13))
    assert (by["greedy_oracle"][["propensity", "slate_propensity"]] == 1.0).all().all()
    eps = by["eps"]
    assert eps["propensity"].between(0, 1, inclusive="right").all()
    assert eps["propensity"].nunique() > 2  # a mixture that changes as the policy learns
    assert by["thompson"][["propensity", "slate_propensity"]].isna().all().all()
    # item rewards: the clicks, on the clicked items' rows
    np.testing.assert_array_equal(ev["item_reward"], ev["clicked"].astype(float))
    assert ev.groupby("policy")["reward"].sum().equals(ev.groupby("policy")["item_reward"].sum())
