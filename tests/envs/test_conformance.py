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


def _fingerprint(traj: list) -> dict:
    """A trajectory's fingerprint in two parts, compared in two ways.

    ``discrete``: a SHA-256 of everything that is not a float: which items were shown and
    clicked, the leave/terminate flags, integer observations, dtypes and shapes. It is
    promised bit-exact on every machine: the random draws come from numpy's PCG64 streams,
    which are platform-independent integers (and the uniforms made from them are exact), and
    the outcome of a draw changes only if a probability computed in float64 moved across
    that uniform. A last-bit difference in ``exp``/``log`` (numpy's SIMD loops differ between
    AVX2 and AVX-512) or in a BLAS dot product shifts a probability by about 1e-16, so a flip
    has a chance of roughly 1e-16 per draw: about 1e-12 over the trajectory.

    ``floats``: for every float leaf (by its key path, over all steps) its count, sum and a
    position-weighted sum. Those go through libm, SIMD and BLAS kernels whose last bits differ
    between CPUs, so they are compared with a relative tolerance (``RTOL``), never exactly.
    A behaviour change moves them by far more than that.
    """
    h = hashlib.sha256()
    floats: dict[str, list[float]] = {}

    def add_floats(path: str, x: np.ndarray) -> None:
        v = np.asarray(x, dtype=np.float64).ravel()
        v = v[np.isfinite(v)]
        w = 1.0 + (np.arange(v.size) % 7)
        acc = floats.setdefault(path, [0.0, 0.0, 0.0])
        acc[0] += v.size
        acc[1] += float(v.sum())
        acc[2] += float(v @ w)

    def feed(x: object, path: str) -> None:
        if isinstance(x, dict):
            for k in sorted(x):
                h.update(str(k).encode())
                feed(x[k], f"{path}/{k}")
        elif isinstance(x, (tuple, list)):
            for i, v in enumerate(x):
                # the key path of a per-step tuple is its slot, so floats add up across steps
                feed(v, f"{path}/{i}" if isinstance(x, tuple) else path)
        elif isinstance(x, np.ndarray):
            h.update(f"{x.dtype}{x.shape}".encode())
            if x.dtype.kind == "f":
                h.update(np.isfinite(x).tobytes())
                add_floats(path, x)
            else:
                h.update(np.ascontiguousarray(x).tobytes())
        elif isinstance(x, (float, np.floating)):
            h.update(b"float")
            add_floats(path, np.array([x]))
        else:
            h.update(repr(x).encode())

    feed(traj, "")
    return {"discrete": h.hexdigest(), "floats": {k: floats[k] for k in sorted(floats)}}


RTOL = 1e-9


def _same_fingerprint(a: dict, b: dict) -> list[str]:
    """The differences between two fingerprints (empty when they agree)."""
    problems = []
    if a["discrete"] != b["discrete"]:
        problems.append("discrete trajectory (items, clicks, flags, shapes) differs")
    if set(a["floats"]) != set(b["floats"]):
        problems.append(f"float leaves differ: {sorted(set(a['floats']) ^ set(b['floats']))}")
    for key in sorted(set(a["floats"]) & set(b["floats"])):
        x, y = np.asarray(a["floats"][key]), np.asarray(b["floats"][key])
        scale = max(1.0, float(np.abs(x).max()), float(np.abs(y).max()))
        if not np.allclose(x, y, rtol=RTOL, atol=RTOL * scale):
            problems.append(f"{key}: {x.tolist()} vs {y.tolist()}")
    return problems


def test_same_seed_same_trajectory(env_id: str) -> None:
    # same machine, same process: bit-identical, floats included
    assert _fingerprint(_rollout(env_id, 7)) == _fingerprint(_rollout(env_id, 7))


def test_different_seed_different_trajectory(env_id: str) -> None:
    a, b = _fingerprint(_rollout(env_id, 7)), _fingerprint(_rollout(env_id, 8))
    assert a["discrete"] != b["discrete"] and _same_fingerprint(a, b)


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
    """A seeded trajectory's fingerprint is stored per id: a behaviour change must bump the
    version. The discrete part must match exactly and the float sums within ``RTOL`` (see
    :func:`_fingerprint` for why that split is what holds across machines).

    To record a new id's fingerprint, run with RECARENA_UPDATE_FINGERPRINTS=1 (only for new
    ids or new versions: never overwrite an existing id's entry)."""
    import os

    stored = json.loads(FINGERPRINTS.read_text()) if FINGERPRINTS.exists() else {}
    got = _fingerprint(_rollout(env_id, 2024))
    if env_id not in stored:
        if os.environ.get("RECARENA_UPDATE_FINGERPRINTS") == "1":
            stored[env_id] = got
            FINGERPRINTS.write_text(json.dumps(stored, indent=1, sort_keys=True) + "\n")
            return
        pytest.fail(f"no stored fingerprint for {env_id}; record one with "
                    "RECARENA_UPDATE_FINGERPRINTS=1")
    problems = _same_fingerprint(stored[env_id], got)
    assert not problems, (
        f"{env_id} behaves differently from its recorded fingerprint: bump the id's version "
        "(and record the new id) rather than changing results under the same id:\n"
        + "\n".join(problems))


def test_fingerprint_tolerance_catches_changes_not_last_bits() -> None:
    """The comparison forgives last-bit float noise and nothing else."""
    traj = [np.array([0.1, 0.2, 0.3]), {"r": 1.5, "ids": np.array([3, 1])}]
    base = _fingerprint(traj)
    noisy = _fingerprint([np.nextafter(traj[0], 1.0), {"r": 1.5 + 1e-15, "ids": np.array([3, 1])}])
    assert base["discrete"] == noisy["discrete"] and not _same_fingerprint(base, noisy)
    moved = _fingerprint([traj[0] + 1e-6, traj[1]])
    assert _same_fingerprint(base, moved)
    swapped = _fingerprint([traj[0][::-1].copy(), traj[1]])  # same sum, other order
    assert _same_fingerprint(base, swapped)
    other_ids = _fingerprint([traj[0], {"r": 1.5, "ids": np.array([1, 3])}])
    assert _same_fingerprint(base, other_ids) == [
        "discrete trajectory (items, clicks, flags, shapes) differs"]


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
