"""recarena/MovieLens-v0: fitted users behind the env's choices, the catalog's titles,
new users from the fitted distribution, and policies that run on it."""

from __future__ import annotations

import subprocess
import sys

import gymnasium as gym
import numpy as np
import pytest

import recarena
from recarena.agents import evaluate, make_policy
from recarena.errors import ConfigError
from recarena.simulators.data.calibrate import load_fitted


def test_true_scores_are_the_fitted_utilities() -> None:
    fitted = load_fitted()
    env = gym.make("recarena/MovieLens-v0", new_user_share=0.0)
    obs, info = env.reset(seed=3)
    interests = info["oracle"]["interests"]
    row = np.flatnonzero((fitted.interests == interests).all(axis=1))
    assert row.size == 1  # a real fitted user
    items = np.searchsorted(fitted.item_ids, fitted.item_ids[info["candidate_ids"]])
    np.testing.assert_allclose(info["oracle"]["scores"], fitted.utilities(row)[0, items])
    catalog = env.unwrapped.config.candidates.catalog
    assert catalog.titles[0] == "Toy Story (1995)" and len(catalog.titles) == 9_742


def test_new_users_come_from_the_fitted_distribution() -> None:
    fitted = load_fitted()
    envs = gym.make_vec("recarena/MovieLens-v0", num_envs=2000, new_user_share=1.0,
                        vectorization_mode="vector_entry_point")
    _, info = envs.reset(seed=0)
    x = info["oracle"]["interests"]
    table = fitted.interests
    assert not (x[:, None, :] == table[None, :5, :]).all(axis=2).any()  # not copies
    se = table.std(axis=0) / np.sqrt(len(x))  # 4 standard errors per dimension
    assert (np.abs(x.mean(axis=0) - table.mean(axis=0)) <= 4 * se + 1e-12).all()
    np.testing.assert_allclose(x.std(axis=0), table.std(axis=0), rtol=0.1, atol=0.02)
    budget = info["oracle"]["budget"]
    mu, sigma = fitted.activity
    assert abs(np.log(budget).mean() - mu) < 0.1 and abs(np.log(budget).std() - sigma) < 0.1


def test_policies_learn_on_movielens() -> None:
    random = evaluate(make_policy("random", "recarena/MovieLens-v0"), "recarena/MovieLens-v0",
                      users=200, seed=0)
    popular = evaluate(make_policy("popular", "recarena/MovieLens-v0"), "recarena/MovieLens-v0",
                       users=200, seed=0)
    oracle = evaluate(make_policy("greedy_oracle", "recarena/MovieLens-v0"),
                      "recarena/MovieLens-v0", users=200, seed=0)
    ctr = {name: (df["clicks"] / df["length"]).mean()
           for name, df in (("random", random), ("popular", popular), ("oracle", oracle))}
    assert ctr["random"] < ctr["popular"] < ctr["oracle"], ctr


def test_bad_arguments() -> None:
    with pytest.raises(ConfigError, match="num_candidates"):
        recarena.make("recarena/MovieLens-v0", num_candidates=0)
    with pytest.raises(ConfigError, match="new_user_share"):
        recarena.make("recarena/MovieLens-v0", new_user_share=1.5)


def test_validate_command_meets_the_target() -> None:
    out = subprocess.run([sys.executable, "-m", "recarena.cli", "validate", "movielens",
                          "--strict"], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert "target (simulator above most-popular on AUC and recall@10): met" in out.stdout
    assert "ASSUMED" in out.stdout  # the no-click utility is not presented as fitted
    bad = subprocess.run([sys.executable, "-m", "recarena.cli", "validate", "movielens",
                          "--data", "/nonexistent"], capture_output=True, text=True, timeout=60)
    assert bad.returncode == 2 and "not a folder" in bad.stderr and "Traceback" not in bad.stderr
