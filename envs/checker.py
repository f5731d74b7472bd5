"""A conformance checker for Gymnasium vector environments (Gymnasium ships none).

:func:`check_vector_env` checks what ``gymnasium.utils.env_checker.check_env`` checks for a
single env, in batch form, plus same-step autoreset and seeding. It raises
``AssertionError`` with a message saying what was expected and what was found.
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces
from gymnasium.vector import AutoresetMode
from gymnasium.vector.utils import batch_space

__all__ = ["check_vector_env"]


def _check_obs(space: spaces.Space, obs: Any, where: str) -> None:
    if isinstance(space, spaces.Dict):
        assert isinstance(obs, dict), f"{where}: expected a dict observation, got {type(obs)}"
        assert set(obs) == set(space.spaces), (
            f"{where}: observation keys {sorted(obs)} differ from the space's {sorted(space.spaces)}")
        for key, sub in space.spaces.items():
            _check_obs(sub, obs[key], f"{where}[{key!r}]")
        return
    arr = np.asarray(obs)
    assert arr.shape == space.shape, f"{where}: shape {arr.shape}, space wants {space.shape}"
    assert arr.dtype == space.dtype, f"{where}: dtype {arr.dtype}, space wants {space.dtype}"
    if not space.contains(arr):
        bad = ""
        if isinstance(space, spaces.Box):
            out = (arr < space.low) | (arr > space.high)
            bad = f" ({int(out.sum())} values out of bounds, e.g. {arr[out][:3].tolist()})"
        raise AssertionError(f"{where}: observation not in its space{bad}")


def _flat(obs: Any) -> list[np.ndarray]:
    if isinstance(obs, dict):
        return [a for k in sorted(obs) for a in _flat(obs[k])]
    return [np.asarray(obs)]


def _rollout(env: gym.vector.VectorEnv, seed: int, steps: int) -> list[np.ndarray]:
    env.action_space.seed(seed)
    obs, _ = env.reset(seed=seed)
    out = _flat(obs)
    for _ in range(steps):
        obs, rew, term, trunc, _ = env.step(env.action_space.sample())
        out += _flat(obs) + [np.asarray(rew), np.asarray(term), np.asarray(trunc)]
    return out


def check_vector_env(env: gym.vector.VectorEnv, steps: int = 200, seed: int = 0,
                     require_autoreset: bool = True) -> dict[str, int]:
    """Check a vector env's spaces, step outputs, autoreset and seeding.

    Args:
        env: the vector env (it is reset and stepped).
        steps: random-policy steps to run.
        seed: the seed of the checks.
        require_autoreset: fail when no episode ended within ``steps`` steps (so that
            autoreset was never exercised).

    Returns:
        counts: ``{"steps": ..., "episodes_ended": ...}``.
    """
    n = env.num_envs
    assert isinstance(n, int) and n >= 1, f"num_envs must be a positive int, got {n!r}"
    mode = env.metadata.get("autoreset_mode")
    assert isinstance(mode, AutoresetMode), (
        f"metadata['autoreset_mode'] must be a gymnasium.vector.AutoresetMode, got {mode!r}")
    assert mode == AutoresetMode.SAME_STEP, f"this checker covers SAME_STEP autoreset, got {mode}"
    # spaces
    assert env.observation_space == batch_space(env.single_observation_space, n), (
        "observation_space must be batch_space(single_observation_space, num_envs)")
    assert env.action_space.shape is not None and env.action_space.shape[0] == n, (
        f"action_space's leading axis must be num_envs={n}, got shape {env.action_space.shape}")
    sample = env.action_space.sample()
    assert env.action_space.contains(sample), "action_space.sample() not in action_space"
    for i in range(n):
        assert env.single_action_space.contains(sample[i]), (
            f"row {i} of a batched action sample is not in single_action_space: {sample[i]}")
    # reset
    obs, info = env.reset(seed=seed)
    _check_obs(env.observation_space, obs, "reset obs")
    assert isinstance(info, dict), f"reset info must be a dict, got {type(info)}"
    ended = 0
    env.action_space.seed(seed)
    prev = _flat(obs)
    for t in range(steps):
        obs, rew, term, trunc, info = env.step(env.action_space.sample())
        where = f"step {t}"
        _check_obs(env.observation_space, obs, f"{where} obs")
        for name, arr, kind in (("rewards", rew, "f"), ("terminated", term, "b"),
                                ("truncated", trunc, "b")):
            assert isinstance(arr, np.ndarray) and arr.shape == (n,), (
                f"{where}: {name} must be an array of shape ({n},), got {type(arr)} "
                f"{getattr(arr, 'shape', None)}")
            assert arr.dtype.kind == kind, f"{where}: {name} dtype {arr.dtype}, want kind {kind!r}"
        assert np.all(np.isfinite(rew)), f"{where}: non-finite rewards"
        assert not np.any(term & trunc), f"{where}: a row is both terminated and truncated"
        new = _flat(obs)
        for a, b in zip(prev, new, strict=True):
            assert not np.shares_memory(a, b), f"{where}: observation arrays reused across steps"
        prev = new
        done = term | trunc
        if done.any():
            ended += int(done.sum())
            assert "final_obs" in info and "_final_obs" in info, (
                f"{where}: episodes ended in rows {np.flatnonzero(done).tolist()} but info "
                "has no final_obs/_final_obs (same-step autoreset)")
            mask = np.asarray(info["_final_obs"])
            assert np.array_equal(mask, done), (
                f"{where}: _final_obs {np.flatnonzero(mask).tolist()} != ended rows "
                f"{np.flatnonzero(done).tolist()}")
            for i in range(n):
                final = info["final_obs"][i]
                if done[i]:
                    _check_obs(env.single_observation_space, final, f"{where} final_obs[{i}]")
                else:
                    assert final is None, f"{where}: final_obs[{i}] set for a running row"
            assert "final_info" in info and "_final_info" in info, f"{where}: no final_info"
        else:
            assert "final_obs" not in info, f"{where}: final_obs present though no episode ended"
    if require_autoreset:
        assert ended > 0, (f"no episode ended within {steps} steps, so autoreset was not "
                           "exercised: use more steps or a shorter horizon")
    # seeding
    horizon = min(steps, 50)
    a, b = _rollout(env, seed + 1, horizon), _rollout(env, seed + 1, horizon)
    assert len(a) == len(b) and all(np.array_equal(x, y) for x, y in zip(a, b, strict=True)), (
        "same seed, same actions: the trajectories differ")
    c = _rollout(env, seed + 2, horizon)
    assert any(not np.array_equal(x, y) for x, y in zip(a, c, strict=True)), (
        "different seeds gave identical trajectories")
    return {"steps": steps, "episodes_ended": ended}
