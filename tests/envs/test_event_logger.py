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
                             snapshot_every=5, propensity=policy.propensity)
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
