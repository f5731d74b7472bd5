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
                     require_autoreset: bool = True, max_steps: int = 5000) -> dict[str, int]:
    """Check a vector env's spaces, step outputs, autoreset and seeding.

    Autoreset is checked in the env's own mode (``metadata["autoreset_mode"]``):

    * ``SAME_STEP``: a step that ends episodes has ``final_obs`` / ``_final_obs`` (exactly
      the ended rows, each a valid single observation, ``None`` elsewhere) and
      ``final_info`` / ``_final_info``; a step that ends none has no ``final_obs``.
    * ``NEXT_STEP``: no step has ``final_obs``; the step after a row's episode ended is
      that row's reset: reward 0, neither terminated nor truncated.

    Args:
        env: the vector env (it is reset and stepped).
        steps: random-policy steps to run at least.
        seed: the seed of the checks.
        require_autoreset: fail when autoreset was not exercised (an episode ended and,
            under ``NEXT_STEP``, the following reset step was seen). Until it is, the
            checks go on past ``steps``, up to ``max_steps`` steps: an env whose
            episodes are long (Cascade-v0's horizon of 1,000) needs no shorter horizon
            to be checked.
        max_steps: the most steps run while waiting for autoreset.

    Returns:
        counts: ``{"steps": ..., "episodes_ended": ...}`` (the steps actually run).
    """
    n = env.num_envs
    assert isinstance(n, int) and n >= 1, f"num_envs must be a positive int, got {n!r}"
    mode = env.metadata.get("autoreset_mode")
    assert isinstance(mode, AutoresetMode), (
        f"metadata['autoreset_mode'] must be a gymnasium.vector.AutoresetMode, got {mode!r}")
    assert mode in (AutoresetMode.SAME_STEP, AutoresetMode.NEXT_STEP), (
        f"this checker covers SAME_STEP and NEXT_STEP autoreset, got {mode}")
    next_step = mode == AutoresetMode.NEXT_STEP
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
    ended = resets = 0
    env.action_space.seed(seed)
    prev = _flat(obs)
    pending = np.zeros(n, dtype=bool)  # NEXT_STEP: rows whose reset step comes next
    t = 0
    while t < steps or (require_autoreset and not (resets if next_step else ended)
                        and t < max(steps, max_steps)):
        obs, rew, term, trunc, info = env.step(env.action_space.sample())
        where = f"step {t}"
        t += 1
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
        ended += int(done.sum())
        if next_step:
            _check_next_step(info, rew, done, pending, where)
            resets += int(pending.sum())
            pending = done
        else:
            _check_same_step(env, info, done, where)
    if require_autoreset:
        assert ended > 0, (f"no episode ended within {t} steps, so autoreset was not "
                           "exercised: use more max_steps or a shorter horizon")
        assert resets > 0 or not next_step, (
            f"an episode ended only in the last of {t} steps, so the NEXT_STEP reset step "
            "was not exercised: use more steps")
    # seeding
    horizon = min(steps, 50)
    a, b = _rollout(env, seed + 1, horizon), _rollout(env, seed + 1, horizon)
    assert len(a) == len(b) and all(np.array_equal(x, y) for x, y in zip(a, b, strict=True)), (
        "same seed, same actions: the trajectories differ")
    c = _rollout(env, seed + 2, horizon)
    assert any(not np.array_equal(x, y) for x, y in zip(a, c, strict=True)), (
        "different seeds gave identical trajectories")
    return {"steps": t, "episodes_ended": ended}


def _check_same_step(env: gym.vector.VectorEnv, info: dict, done: np.ndarray,
                     where: str) -> None:
    """SAME_STEP: ``final_obs`` / ``final_info`` exactly where episodes ended."""
    n = done.shape[0]
    if not done.any():
        assert "final_obs" not in info, f"{where}: final_obs present though no episode ended"
        return
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


def _check_next_step(info: dict, rew: np.ndarray, done: np.ndarray, pending: np.ndarray,
                     where: str) -> None:
    """NEXT_STEP: no ``final_obs``; the rows reset in this step (``pending``: their episode
    ended in the last one) have reward 0 and neither end flag."""
    assert "final_obs" not in info, (
        f"{where}: final_obs in info under NEXT_STEP autoreset (the ending step returns "
        "the last observation itself)")
    if pending.any():
        rows = np.flatnonzero(pending)
        assert np.all(rew[rows] == 0), (
            f"{where}: rows {rows.tolist()} are reset in this step (NEXT_STEP) but have "
            f"rewards {rew[rows].tolist()}, not 0")
        assert not done[rows].any(), (
            f"{where}: rows {rows.tolist()} are reset in this step (NEXT_STEP) but are "
            "terminated or truncated")
