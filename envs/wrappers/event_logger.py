"""Write the recarena event log from any recarena env, e.g. while SB3 trains or evaluates.

:class:`EventLogger` wraps a single env, :class:`VectorEventLogger` a recarena vector env;
both write the same ``impressions`` / ``snapshots`` tables as the scenario runner
(:mod:`recarena.eventlog`), so :mod:`recarena.analysis` works on training runs too. Rows
are flushed to Parquet every ``chunk_rows`` rows and on :meth:`close`.

>>> import tempfile, recarena
>>> from recarena.envs.wrappers import EventLogger
>>> from recarena.eventlog import read_table
>>> folder = tempfile.mkdtemp()
>>> env = EventLogger(recarena.make("recarena/Cascade-v0"), folder, policy="random")
>>> obs, info = env.reset(seed=0)
>>> for _ in range(5):
...     obs, reward, terminated, truncated, info = env.step(env.action_space.sample())
>>> env.close()
>>> len(read_table(folder))  # 5 slates of 4
20
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import gymnasium as gym
import numpy as np

from recarena.envs.core import batch_info
from recarena.errors import ConfigError
from recarena.eventlog import ImpressionRecorder

__all__ = ["EventLogger", "VectorEventLogger"]


def _day(env: Any) -> np.ndarray | None:
    state = getattr(getattr(env.unwrapped, "world", None), "state", None)
    day = getattr(state, "day", None)
    return None if day is None else np.array(day, dtype=np.float64)


def _check(env: Any, cls: str) -> None:
    if not hasattr(env.unwrapped, "core"):
        raise ConfigError(f"{cls}.env", env, "a recarena env (recarena.make / make_vec)")


class EventLogger(gym.Wrapper):
    """Log every step of a single recarena env to ``folder`` (see the module docstring).

    Args:
        env: a recarena env (possibly wrapped).
        folder: where the Parquet files go (created if missing).
        run, policy: labels written in every row.
        snapshot_every: steps between user-state snapshots (0: none).
        chunk_rows: rows per Parquet file.
        propensity: the logging policy's ``propensity(slates)`` when known (probability
            of each shown item at its position, for off-policy evaluation).

    ``seed`` in the log is the seed of the latest ``reset(seed=...)`` (-1 before one);
    ``step`` counts steps across episodes.
    """

    def __init__(self, env: gym.Env, folder: str | os.PathLike[str], run: str = "run",
                 policy: str = "unknown", snapshot_every: int = 10,
                 chunk_rows: int = 100_000,
                 propensity: Callable[[np.ndarray], np.ndarray] | None = None) -> None:
        super().__init__(env)
        self._propensity = propensity
        _check(env, "EventLogger")
        self._rec = ImpressionRecorder(folder, run, -1, policy, 1, snapshot_every,
                                       chunk_rows=chunk_rows)
        self._info: dict[str, Any] | None = None
        self._t = 0

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> Any:
        obs, info = self.env.reset(seed=seed, options=options)
        if seed is not None:
            self._rec.seed = int(seed)
        self._info = batch_info(info)
        self._rec.session[:] = 0
        return obs, info

    def step(self, action: Any) -> Any:
        day = _day(self.env)
        obs, reward, terminated, truncated, info = self.env.step(action)
        if self._info is not None:
            slate = np.asarray(action, dtype=np.int64)[None]
            self._rec.step(self._t, self._info, slate, np.array([reward]),
                           np.array([terminated]), np.array([truncated]), batch_info(info),
                           day=day, propensity=None if self._propensity is None
                           else self._propensity(slate))
        self._t += 1
        self._info = batch_info(info)
        return obs, reward, terminated, truncated, info

    def close(self) -> None:
        self._rec.close()
        super().close()


class VectorEventLogger(gym.vector.VectorWrapper):
    """Log every step of a recarena vector env (N user rows) to ``folder``."""

    def __init__(self, env: gym.vector.VectorEnv, folder: str | os.PathLike[str],
                 run: str = "run", policy: str = "unknown", seed: int = 0,
                 snapshot_every: int = 10, chunk_rows: int = 250_000,
                 propensity: Callable[[np.ndarray], np.ndarray] | None = None) -> None:
        super().__init__(env)
        self._propensity = propensity
        _check(env, "VectorEventLogger")
        self._rec = ImpressionRecorder(folder, run, seed, policy, env.num_envs, snapshot_every,
                                       chunk_rows=chunk_rows)
        self._info: dict[str, Any] | None = None
        self._t = 0

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> Any:
        obs, info = self.env.reset(seed=seed, options=options)
        if seed is not None:
            self._rec.seed = int(seed)
        self._info = info
        self._rec.session[:] = 0
        return obs, info

    def step(self, actions: Any) -> Any:
        day = _day(self.env)
        obs, reward, terminated, truncated, info = self.env.step(actions)
        if self._info is not None:
            slates = np.asarray(actions)
            self._rec.step(self._t, self._info, slates, reward, terminated, truncated, info,
                           day=day, propensity=None if self._propensity is None
                           else self._propensity(slates))
        self._t += 1
        self._info = info
        return obs, reward, terminated, truncated, info

    def close(self, **kwargs: Any) -> None:
        self._rec.close()
        super().close(**kwargs)
