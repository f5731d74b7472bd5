"""Run a policy against a single or vector env and collect per-episode results."""

from __future__ import annotations

import sys
from typing import Any

import gymnasium as gym
import numpy as np
import pandas as pd

from recarena.agents.base import Policy, batch_info, public_info
from recarena.errors import ConfigError
from recarena.validation import check_int

__all__ = ["evaluate"]


class _Tally:
    """Per-row sums over the first episode of each of ``n`` rows."""

    def __init__(self, n: int, calendar: bool, marks: tuple[float, ...]) -> None:
        self.active = np.ones(n, dtype=bool)
        self.ret, self.watch = np.zeros(n), np.zeros(n)
        self.clicks, self.length = np.zeros(n, np.int64), np.zeros(n, np.int64)
        self.terminated = np.zeros(n, dtype=bool)
        self.user_id = np.full(n, -1, dtype=np.int64)
        self.calendar, self.marks = calendar, marks
        self.by_day = np.zeros((n, len(marks)))
        self.first_session, self.in_first = np.zeros(n), np.ones(n, dtype=bool)
        self.sessions, self.days = np.ones(n, np.int64), np.zeros(n)

    def add(self, reward: np.ndarray, response: Any, term: np.ndarray, trunc: np.ndarray,
            info: dict[str, Any], day_before: np.ndarray | None, horizon_days: float) -> None:
        a = self.active
        r = np.where(a, reward, 0.0)
        self.ret += r
        self.watch += np.where(a, np.asarray(response.watch_time).sum(axis=1), 0.0)
        self.clicks += np.where(a, np.asarray(response.clicked).sum(axis=1), 0)
        self.length += a
        if self.calendar:
            assert day_before is not None
            for j, d in enumerate(self.marks):
                self.by_day[:, j] += np.where(day_before < d, r, 0.0)
            self.first_session += np.where(self.in_first, r, 0.0)
            session_ended = np.asarray(info["session_ended"], dtype=bool)
            self.sessions += session_ended & a & ~(term | trunc)
            self.in_first &= ~session_ended
            # a churned user's calendar ends at their last session
            day = np.asarray(info["day"], dtype=np.float64)
            last = np.where(np.isfinite(day), day, day_before)
            self.days = np.where(a, np.minimum(last, horizon_days), self.days)
        done = (term | trunc) & a
        self.terminated |= term & a
        self.active &= ~done

    def columns(self) -> dict[str, np.ndarray]:
        out = {"user_id": self.user_id, "return": self.ret, "clicks": self.clicks,
               "watch_time": self.watch, "length": self.length, "terminated": self.terminated}
        if self.calendar:
            out |= {"sessions": self.sessions, "days": self.days,
                    "return_first_session": self.first_session}
            out |= {f"return_by_day_{d:g}": self.by_day[:, j] for j, d in enumerate(self.marks)}
        return out


def evaluate(policy: Policy, env: gym.Env | gym.vector.VectorEnv | str,
             episodes: int | None = None, users: int | None = None, seed: int = 0,
             env_kwargs: dict[str, Any] | None = None, learn: bool = True,
             day_marks: tuple[float, ...] = (1.0, 3.0, 7.0)) -> pd.DataFrame:
    """Run ``policy`` and return one row per finished episode (one user's session).

    Two ways to run, with the same results table:

    * **single env** (an env object, or an id with ``episodes``): ``episodes`` episodes one
      after the other; episode ``i`` is reset with seed ``seed + i``, so two policies
      evaluated with the same seed face the same users (a paired comparison). The policy
      sees a batch of one.
    * **vector env** (a recarena vector env, or an id with ``users``): ``users`` users in
      one batch, reset with ``seed``, run until every row's first user has finished (the
      vector env's replacement users are simulated, and learners learn from them, but they
      are not counted). Two policies with the same seed start from the same users.

    A stable-baselines3 model (any ``BaseAlgorithm``) is evaluated through
    :class:`~recarena.agents.rl.sb3.SB3Policy` (deterministic ``model.predict``; its
    actions mapped to slates as the model was trained: the slate policy's slates, or a
    slate wrapper's mapping read from the model's env), with the same paired seeds. Wrap
    it yourself (``SB3Policy(model, wrapper=..., deterministic=False)``) for other choices.

    The policy is ``reset()`` once at the start: a learner keeps what it learns across
    episodes (per-user learners forget a user when ``info["user_id"]`` changes). With
    ``learn=True`` an online policy's ``update(obs, slates, response, reward, info)`` is
    called after every step. Only policies with ``is_oracle`` receive ``info["oracle"]``;
    the others get the info without it.

    Returns:
        One row per episode: ``episode, seed, user_id, return, clicks, watch_time, length,
        terminated``; for envs with a calendar (a retention model: ``info["day"]``) also
        ``sessions``, ``days`` (the user's last day), ``return_first_session`` and, for each
        ``d`` in ``day_marks``, ``return_by_day_d`` (reward collected before day ``d``).
    """
    seed = check_int(seed, "evaluate.seed", 0)
    policy = _as_policy(policy)
    if not isinstance(policy, Policy):
        raise ConfigError("evaluate.policy", policy,
                          "a Policy (recommend(obs, info), reset(), name, is_oracle)")
    if not isinstance(learn, bool):
        raise ConfigError("evaluate.learn", learn, "True or False")
    if episodes is not None and users is not None:
        raise ConfigError("evaluate", f"episodes={episodes!r}, users={users!r}",
                          "either episodes (single env) or users (vector env), not both")
    marks = tuple(float(d) for d in day_marks)
    if isinstance(env, str):
        kwargs = env_kwargs or {}
        if users is not None:
            users = check_int(users, "evaluate.users", 1)
            made: Any = gym.make_vec(env, num_envs=users, vectorization_mode="vector_entry_point",
                                     **kwargs)
        else:
            made = gym.make(env, **kwargs)
        try:
            return evaluate(policy, made, episodes=episodes, seed=seed, learn=learn,
                            day_marks=marks)
        finally:
            made.close()
    if env_kwargs:
        raise ConfigError("evaluate.env_kwargs", env_kwargs, "None when an env object is given")
    if isinstance(env, gym.vector.VectorEnv):
        if episodes is not None:
            raise ConfigError("evaluate.episodes", episodes,
                              "None for a vector env (it runs one episode per row)")
        if users is not None and check_int(users, "evaluate.users", 1) != env.num_envs:
            raise ConfigError("evaluate.users", users, f"the vector env's num_envs ({env.num_envs})")
        return _run_vector(policy, env, seed, learn, marks)
    if not isinstance(env, gym.Env):
        raise ConfigError("evaluate.env", env, "a registered env id, a gymnasium Env or VectorEnv")
    if users is not None:
        raise ConfigError("evaluate.users", users, "None for a single env (use episodes)")
    episodes = check_int(100 if episodes is None else episodes, "evaluate.episodes", 1)
    return _run_single(policy, env, episodes, seed, learn, marks)


def _as_policy(policy: Any) -> Any:
    """An SB3 model as an :class:`~recarena.agents.rl.sb3.SB3Policy`; anything else as it
    is. (A model's class comes from stable-baselines3, so it is imported already.)"""
    base = sys.modules.get("stable_baselines3.common.base_class")
    if base is not None and isinstance(policy, base.BaseAlgorithm):
        from recarena.agents.rl.sb3 import SB3Policy

        return SB3Policy(policy)
    return policy


def _calendar(env: Any) -> tuple[bool, Any, float]:
    """Whether the env has a calendar, the function that reads its users' days (the env's
    public ``calendar_day()``), and the configured ``horizon_days`` (inf without one)."""
    base = env.unwrapped
    days = getattr(base, "calendar_day", None)
    calendar = bool(getattr(base, "has_calendar", False))
    horizon_days = getattr(getattr(base, "config", None), "horizon_days", None) or np.inf
    return calendar, days, float(horizon_days)


def _policy_view(policy: Policy, info: dict[str, Any]) -> dict[str, Any] | None:
    return info if policy.is_oracle else public_info(info)


def _run_vector(policy: Policy, envs: gym.vector.VectorEnv, seed: int, learn: bool,
                marks: tuple[float, ...]) -> pd.DataFrame:
    n = envs.num_envs
    calendar, days, horizon_days = _calendar(envs)
    updates = learn and callable(getattr(policy, "update", None))
    tally = _Tally(n, calendar, marks)
    policy.reset()
    obs, info = envs.reset(seed=seed)
    tally.user_id[:] = info["user_id"]
    while tally.active.any():
        seen = _policy_view(policy, info)
        slates = policy.recommend(obs, seen)
        day_before = days() if calendar else None
        next_obs, reward, term, trunc, next_info = envs.step(slates)
        tally.add(reward, next_info["response"], term, trunc, next_info, day_before, horizon_days)
        if updates:
            policy.update(obs, slates, next_info["response"], reward, seen)
        obs, info = next_obs, next_info
    out = {"episode": np.arange(n), "seed": np.full(n, seed)} | tally.columns()
    return pd.DataFrame(out)


def _run_single(policy: Policy, env: gym.Env, episodes: int, seed: int, learn: bool,
                marks: tuple[float, ...]) -> pd.DataFrame:
    calendar, days, horizon_days = _calendar(env)
    updates = learn and callable(getattr(policy, "update", None))
    policy.reset()
    frames = []
    for i in range(episodes):
        tally = _Tally(1, calendar, marks)
        obs, info = env.reset(seed=seed + i)
        tally.user_id[:] = info.get("user_id", i)
        while tally.active[0]:
            batch = {k: np.asarray(v)[None] for k, v in obs.items()}
            seen = batch_info(_policy_view(policy, info))
            slates = np.asarray(policy.recommend(batch, seen))
            day_before = np.array([days()]) if calendar else None
            obs, reward, term, trunc, info = env.step(slates[0])
            step = batch_info(info)
            response = step["response"]
            tally.add(np.array([reward]), response, np.array([term]), np.array([trunc]), step,
                      day_before, horizon_days)
            if updates:
                policy.update(batch, slates, response, np.array([reward]), seen)
        frames.append({"episode": i, "seed": seed + i}
                      | {k: v[0] for k, v in tally.columns().items()})
    return pd.DataFrame(frames)
