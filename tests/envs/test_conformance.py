"""Gymnasium's and stable-baselines3's checkers, seeding and determinism on every id."""

from __future__ import annotations

import hashlib
import json
import pickle
import warnings
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env as gym_check_env

import recarena

FINGERPRINTS = Path(__file__).with_name("fingerprints.json")
STEPS = 200


def test_registry_lists_every_id() -> None:
    ids = recarena.list_envs()
    assert {"recarena/InterestEvolution-v0", "recarena/Cascade-v0", "recarena/Slate-v0"} <= set(ids)
    for env_id in ids:
        assert env_id in gym.registry
        assert env_id.rsplit("-v", 1)[1].isdigit(), "ids are versioned"


def test_gymnasium_check_env(env_id: str) -> None:
    env = gym.make(env_id).unwrapped
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # any checker warning fails the test
        gym_check_env(env, skip_render_check=False)


def test_sb3_check_env(env_id: str) -> None:
    sb3_env_checker = pytest.importorskip("stable_baselines3.common.env_checker")
    env = gym.make(env_id).unwrapped
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        # (C, d) candidate matrices are kept 2-D on purpose: SB3's MultiInputPolicy flattens
        # each Box itself, so the only warning allowed is the one about that shape.
        warnings.filterwarnings("ignore", message=".*unconventional shape.*")
        sb3_env_checker.check_env(env, warn=True)


def test_reset_observation_in_space(env_id: str) -> None:
    env = gym.make(env_id)
    for seed in range(5):
        obs, _ = env.reset(seed=seed)
        assert env.observation_space.contains(obs)
        for _ in range(20):
            obs, _, term, trunc, _ = env.step(env.action_space.sample())
            assert env.observation_space.contains(obs)
            if term or trunc:
                break


def _rollout(env_id: str, seed: int, steps: int = STEPS) -> list:
    """A trajectory under a seeded random policy, resetting on episode end."""
    env = gym.make(env_id)
    env.action_space.seed(seed)
    obs, info = env.reset(seed=seed)
    traj = [obs, info["oracle"]]
    for _ in range(steps):
        action = env.action_space.sample()
        obs, reward, term, trunc, info = env.step(action)
        traj.append((action, obs, reward, term, trunc, info["response"], info["oracle"]))
        if term or trunc:
            obs, info = env.reset()
            traj.append(("reset", obs, info["oracle"]))
    return traj


def _digest(traj: list) -> str:
    h = hashlib.sha256()

    def feed(x: object) -> None:
        if isinstance(x, dict):
            for k in sorted(x):
                h.update(str(k).encode())
                feed(x[k])
        elif isinstance(x, (tuple, list)):
            for v in x:
                feed(v)
        elif isinstance(x, np.ndarray):
            h.update(str(x.dtype).encode())
            if x.dtype.kind == "f":  # behaviour, not last-bit arithmetic of a BLAS or libm
                x = np.round(x.astype(np.float64), 10) + 0.0
            h.update(np.ascontiguousarray(x).tobytes())
        elif isinstance(x, float):
            h.update(repr(round(x, 10)).encode())
        else:
            h.update(repr(x).encode())

    feed(traj)
    return h.hexdigest()


def test_same_seed_same_trajectory(env_id: str) -> None:
    assert _digest(_rollout(env_id, 7)) == _digest(_rollout(env_id, 7))


def test_different_seed_different_trajectory(env_id: str) -> None:
    assert _digest(_rollout(env_id, 7)) != _digest(_rollout(env_id, 8))


def test_reset_without_seed_continues_the_stream(env_id: str) -> None:
    env = gym.make(env_id)
    first, _ = env.reset(seed=3)
    second, _ = env.reset()
    again, _ = env.reset(seed=3)
    # the un-seeded reset is a new user (or new permutation); re-seeding reproduces the first
    for key in first:
        np.testing.assert_array_equal(first[key], again[key])
    _, info1 = env.reset(seed=3)
    _, info2 = env.reset()
    assert info2["user_id"] != info1["user_id"]
    assert any(not np.array_equal(info1["oracle"][key], info2["oracle"][key])
               for key in info1["oracle"]), "the new user's privileged state equals the old one's"


def test_fingerprint_unchanged(env_id: str) -> None:
    """A seeded trajectory's hash is stored per id: a behaviour change must bump the version.

    To record a new id's fingerprint, run with RECARENA_UPDATE_FINGERPRINTS=1 (only for new
    ids or new versions: never overwrite an existing id's entry)."""
    import os

    stored = json.loads(FINGERPRINTS.read_text()) if FINGERPRINTS.exists() else {}
    digest = _digest(_rollout(env_id, 2024))
    if env_id not in stored:
        if os.environ.get("RECARENA_UPDATE_FINGERPRINTS") == "1":
            stored[env_id] = digest
            FINGERPRINTS.write_text(json.dumps(stored, indent=2, sort_keys=True) + "\n")
            return
        pytest.fail(f"no stored fingerprint for {env_id}; record one with "
                    "RECARENA_UPDATE_FINGERPRINTS=1")
    assert stored[env_id] == digest, (
        f"{env_id} behaves differently from its recorded fingerprint: bump the id's version "
        "(and record the new id) rather than changing results under the same id")


def test_env_pickles_mid_episode(env_id: str) -> None:
    env = gym.make(env_id).unwrapped
    env.reset(seed=1)
    env.step(env.action_space.sample())
    clone = pickle.loads(pickle.dumps(env))
    a = env.action_space.sample()
    out1 = env.step(a)
    out2 = clone.step(a)
    for key in out1[0]:
        np.testing.assert_array_equal(out1[0][key], out2[0][key])
    assert out1[1:4] == out2[1:4]


def test_render_ansi(env_id: str) -> None:
    env = gym.make(env_id, render_mode="ansi")
    env.reset(seed=0)
    env.step(env.action_space.sample())
    text = env.render()
    assert isinstance(text, str) and "clicked=" in text


def test_make_helper_and_unknown_id() -> None:
    env = recarena.make("Cascade-v0")
    assert env.spec.id == "recarena/Cascade-v0"
    with pytest.raises(recarena.errors.UnknownEnvError, match="registered ids: recarena/"):
        recarena.make("recarena/Nope-v0")
