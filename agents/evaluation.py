"""Run a policy against an environment and collect per-episode results."""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
import pandas as pd

from recarena.agents.base import Policy
from recarena.errors import ConfigError
from recarena.validation import check_int

__all__ = ["evaluate"]


def evaluate(policy: Policy, env: gym.Env | str, episodes: int = 100, seed: int = 0,
             env_kwargs: dict[str, Any] | None = None) -> pd.DataFrame:
    """Run ``policy`` for ``episodes`` episodes of a single (non-vector) env.

    Episode ``i`` is reset with seed ``seed + i``, so two policies evaluated with the same
    seed face the same users (paired comparison). Observations are handed to the policy
    as a batch of one; ``info["oracle"]`` is handed only to policies with ``is_oracle``.

    Returns:
        One row per episode: ``episode, seed, return, clicks, watch_time, length``.
    """
    episodes = check_int(episodes, "evaluate.episodes", 1)
    seed = check_int(seed, "evaluate.seed", 0)
    if not isinstance(policy, Policy):
        raise ConfigError("evaluate.policy", policy,
                          "a Policy (recommend(obs, info), reset(), name, is_oracle)")
    own_env = isinstance(env, str)
    if own_env:
        env = gym.make(env, **(env_kwargs or {}))
    elif env_kwargs:
        raise ConfigError("evaluate.env_kwargs", env_kwargs, "None when an env object is given")
    rows = []
    try:
        for i in range(episodes):
            policy.reset()
            obs, info = env.reset(seed=seed + i)
            ret, clicks, watch, length = 0.0, 0, 0.0, 0
            done = False
            while not done:
                batch = {k: v[None] for k, v in obs.items()}
                slate = policy.recommend(batch, info if policy.is_oracle else None)
                obs, reward, terminated, truncated, info = env.step(np.asarray(slate)[0])
                resp = info["response"]
                ret += reward
                clicks += int(resp.clicked.sum())
                watch += float(resp.watch_time.sum())
                length += 1
                done = terminated or truncated
            rows.append({"episode": i, "seed": seed + i, "return": ret, "clicks": clicks,
                         "watch_time": watch, "length": length})
    finally:
        if own_env:
            env.close()
    return pd.DataFrame(rows)


def evaluate_users(policy: Policy, env_id: str, users: int = 1000, seed: int = 0,
                   env_kwargs: dict[str, Any] | None = None,
                   day_marks: tuple[float, ...] = (1.0, 3.0, 7.0)) -> pd.DataFrame:
    """Run ``policy`` on the native vector env of ``env_id`` with ``users`` rows until every
    row's first user has finished their episode (replacement users are not counted).

    The vector env is reset with ``seed``, so two policies evaluated with the same seed
    start from the same ``users`` users (paired comparison; the same exogenous random
    streams, although responses differ with the slates). ``info["oracle"]`` is handed only
    to oracle policies.

    Returns:
        One row per user: ``user, return, clicks, watch_time, length, terminated``; for envs
        with a calendar (``info["day"]``, e.g. ``Retention-v0``) also ``sessions``,
        ``days`` (the user's last day), ``return_first_session`` and, for each ``d`` in
        ``day_marks``, ``return_by_day_d`` (reward collected before day ``d``).
    """
    users = check_int(users, "evaluate_users.users", 1)
    seed = check_int(seed, "evaluate_users.seed", 0)
    if not isinstance(policy, Policy):
        raise ConfigError("evaluate_users.policy", policy,
                          "a Policy (recommend(obs, info), reset(), name, is_oracle)")
    if not isinstance(env_id, str):
        raise ConfigError("evaluate_users.env_id", env_id, "a registered env id (str)")
    envs = gym.make_vec(env_id, num_envs=users, vectorization_mode="vector_entry_point",
                        **(env_kwargs or {}))
    policy.reset()
    obs, info = envs.reset(seed=seed)
    active = np.ones(users, dtype=bool)
    ret, watch = np.zeros(users), np.zeros(users)
    clicks, length = np.zeros(users, dtype=np.int64), np.zeros(users, dtype=np.int64)
    terminated_at = np.zeros(users, dtype=bool)
    user_model = getattr(envs.unwrapped.config, "user_model", None)
    calendar = getattr(user_model, "retention", None) is not None
    marks = tuple(float(d) for d in day_marks)
    by_day = np.zeros((users, len(marks)))
    first_session = np.zeros(users)
    in_first = np.ones(users, dtype=bool)
    sessions, days = np.ones(users, dtype=np.int64), np.zeros(users)
    world = envs.unwrapped.world
    try:
        while active.any():
            slates = policy.recommend(obs, info if policy.is_oracle else None)
            day_before = world.state.day.copy() if calendar else None
            obs, reward, term, trunc, info = envs.step(slates)
            resp = info["response"]
            r = np.where(active, reward, 0.0)
            ret += r
            watch += np.where(active, resp.watch_time.sum(axis=1), 0.0)
            clicks += np.where(active, resp.clicked.sum(axis=1), 0)
            length += active
            if calendar:
                for j, d in enumerate(marks):
                    by_day[:, j] += np.where(day_before < d, r, 0.0)
                first_session += np.where(in_first, r, 0.0)
                ended = info["session_ended"] & active
                in_first &= ~info["session_ended"]
                sessions += ended & ~(term | trunc)
                # a churned user's calendar ends at their last session
                last = np.where(np.isfinite(info["day"]), info["day"], day_before)
                horizon_days = envs.unwrapped.config.horizon_days or np.inf
                days = np.where(active, np.minimum(last, horizon_days), days)
            done = (term | trunc) & active
            terminated_at |= term & active
            active &= ~done
    finally:
        envs.close()
    out = {"user": np.arange(users), "return": ret, "clicks": clicks, "watch_time": watch,
           "length": length, "terminated": terminated_at}
    if calendar:
        out |= {"sessions": sessions, "days": days, "return_first_session": first_session}
        out |= {f"return_by_day_{d:g}": by_day[:, j] for j, d in enumerate(marks)}
    return pd.DataFrame(out)
