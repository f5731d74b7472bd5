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


class _Log:
    """What both wrappers do: remember the info the next slates are chosen on, and hand
    each step, batched, to an :class:`ImpressionRecorder`."""

    def __init__(self, rec: ImpressionRecorder,
                 propensity: Callable[[np.ndarray], np.ndarray] | None) -> None:
        self.rec, self.propensity = rec, propensity
        self.info: dict[str, Any] | None = None
        self.t = 0

    def reset(self, seed: int | None, info: dict[str, Any]) -> None:
        if seed is not None:
            self.rec.seed = int(seed)
        self.info = info
        self.rec.session[:] = 0

    def step(self, day: np.ndarray | None, slates: np.ndarray, reward: np.ndarray,
             terminated: np.ndarray, truncated: np.ndarray, info: dict[str, Any]) -> None:
        if self.info is not None:
            self.rec.step(self.t, self.info, slates, reward, terminated, truncated, info,
                          day=day, propensity=None if self.propensity is None
                          else self.propensity(slates))
        self.t += 1
        self.info = info


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
        _check(env, "EventLogger")
        self._log = _Log(ImpressionRecorder(folder, run, -1, policy, 1, snapshot_every,
                                                 chunk_rows=chunk_rows), propensity)

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> Any:
        obs, info = self.env.reset(seed=seed, options=options)
        self._log.reset(seed, batch_info(info))
        return obs, info

    def step(self, action: Any) -> Any:
        day = _day(self.env)
        obs, reward, terminated, truncated, info = self.env.step(action)
        self._log.step(day, np.asarray(action, dtype=np.int64)[None], np.array([reward]),
                       np.array([terminated]), np.array([truncated]), batch_info(info))
        return obs, reward, terminated, truncated, info

    def close(self) -> None:
        self._log.rec.close()
        super().close()


class VectorEventLogger(gym.vector.VectorWrapper):
    """Log every step of a recarena vector env (N user rows) to ``folder``; the scenario
    runner writes its logs through it. Arguments as :class:`EventLogger`, plus ``seed``
    (the label before the first seeded reset) and ``candidates`` (also log every
    candidate's true relevance)."""

    def __init__(self, env: gym.vector.VectorEnv, folder: str | os.PathLike[str],
                 run: str = "run", policy: str = "unknown", seed: int = 0,
                 snapshot_every: int = 10, chunk_rows: int = 250_000,
                 propensity: Callable[[np.ndarray], np.ndarray] | None = None,
                 candidates: bool = False) -> None:
        super().__init__(env)
        _check(env, "VectorEventLogger")
        self._log = _Log(ImpressionRecorder(folder, run, seed, policy, env.num_envs,
                                                 snapshot_every, candidates=candidates,
                                                 chunk_rows=chunk_rows), propensity)

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> Any:
        obs, info = self.env.reset(seed=seed, options=options)
        self._log.reset(seed, info)
        return obs, info

    def step(self, actions: Any) -> Any:
        day = _day(self.env)
        obs, reward, terminated, truncated, info = self.env.step(actions)
        self._log.step(day, np.asarray(actions), reward, terminated, truncated, info)
        return obs, reward, terminated, truncated, info

    def close(self, **kwargs: Any) -> None:
        self._log.rec.close()
        super().close(**kwargs)
