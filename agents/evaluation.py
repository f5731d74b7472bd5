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
