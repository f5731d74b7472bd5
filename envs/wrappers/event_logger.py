"""Write the recarena event log from any recarena env, e.g. while SB3 trains or evaluates.

:class:`EventLogger` wraps a single env, :class:`VectorEventLogger` a recarena vector env;
both write the same ``impressions`` / ``snapshots`` tables as the scenario runner
(:mod:`recarena.eventlog`), so :mod:`recarena.analysis` works on training runs too. Rows
are flushed to Parquet every ``chunk_rows`` rows and on :meth:`close`.

Give the wrapper the logging policy (``policy=policy``) and its propensities are logged:
``propensity`` (the probability that the policy put each shown item at its position) and
``slate_propensity`` (the probability of the whole ordered slate), NaN where the policy
does not report them (:func:`recarena.eventlog.logged_propensities`). Each row's
``item_reward`` is the part of the step reward due to that item (:func:`item_rewards`).

>>> import tempfile, recarena
>>> from recarena.agents import make_policy
>>> from recarena.envs.wrappers import EventLogger
>>> from recarena.eventlog import read_table
>>> folder = tempfile.mkdtemp()
>>> env = recarena.make("recarena/Cascade-v0")
>>> policy = make_policy("random", env)
>>> env = EventLogger(env, folder, policy=policy)
>>> obs, info = env.reset(seed=0)
>>> for _ in range(5):
...     batch = {key: value[None] for key, value in obs.items()}  # a batch of one user
...     obs, reward, terminated, truncated, info = env.step(policy.recommend(batch)[0])
>>> env.close()
>>> ev = read_table(folder)
>>> len(ev), ev["propensity"].unique().tolist()  # 5 slates of 4; 1/16 at each position
(20, [0.0625])
>>> round(1 / ev["slate_propensity"].iloc[0]) == 16 * 15 * 14 * 13  # one of 16!/12! slates
True
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import gymnasium as gym
import numpy as np

from recarena.envs.core import batch_info, first_row_info
from recarena.errors import ConfigError
from recarena.eventlog import ImpressionRecorder, logged_propensities

__all__ = ["EventLogger", "VectorEventLogger", "item_rewards"]

#: a logging policy, or a function ``slates -> (N, K)`` position-wise propensities
PropensitySource = Any | Callable[[np.ndarray], np.ndarray]


def _day(env: Any) -> np.ndarray | None:
    """The current users' calendar days (the env's public ``calendar_day()``), ``(N,)``."""
    day = env.unwrapped.calendar_day()
    return None if day is None else np.atleast_1d(np.asarray(day, dtype=np.float64))


def _check(env: Any, cls: str) -> None:
    base = env.unwrapped
    if not (callable(getattr(base, "item_rewards", None))
            and callable(getattr(base, "calendar_day", None))):
        raise ConfigError(f"{cls}.env", env, "a recarena env (gymnasium.make / make_vec of "
                          "a recarena id, or a CoreEnv / CoreVectorEnv)")


def item_rewards(env: Any, info: dict[str, Any]) -> np.ndarray | None:
    """``(N, K)``: the part of each step's reward due to each shown item, from the batched
    step ``info`` of the recarena vector env ``env`` (or a single env's info batched with
    :func:`~recarena.envs.core.batch_info`); ``None`` when the env's reward cannot be split
    over items (the log then holds NaN).

    Every recarena reward is a weighted sum of per-item response signals plus, at most,
    a user-level term; the item's part is its own weighted signals, as each family's core
    defines it (:meth:`~recarena.envs.core.EnvCore.item_rewards`): the slate-world
    families' ``sum_s reward_weights[s] * signal_s[k]`` (the ``retention`` term belongs to
    no item), ShortVideo's weighted ``info["signals"]``, InterestExploration's click,
    LongTermSatisfaction's top-item engagement. So ``reward - item_rewards.sum(axis=1)`` is
    the part of the step reward no item earned (0 except for the retention term).
    """
    base = env.unwrapped  # (a single env takes and gives its own, unbatched info)
    out = base.item_rewards(first_row_info(info) if base.single else info)
    return None if out is None else np.asarray(out, dtype=np.float64).reshape(
        np.shape(info["response"].clicked))


class _Log:
    """What both wrappers do: remember the info the next slates are chosen on, and hand
    each step, batched, to an :class:`ImpressionRecorder`."""

    def __init__(self, rec: ImpressionRecorder, env: Any, source: PropensitySource | None) -> None:
        self.rec, self.env, self.source = rec, env, source
        self.info: dict[str, Any] | None = None
        self.t = 0

    def reset(self, seed: int | None, info: dict[str, Any]) -> None:
        if seed is not None:
            self.rec.seed = int(seed)
        self.info = info
        self.rec.session[:] = 0

    def propensities(self, slates: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
        """Asked before the env steps, while the policy's state is the one that chose."""
        if self.source is None or self.info is None:
            return None
        return logged_propensities(self.source, slates)

    def step(self, day: np.ndarray | None, slates: np.ndarray, reward: np.ndarray,
             terminated: np.ndarray, truncated: np.ndarray, info: dict[str, Any],
             propensities: tuple[np.ndarray, np.ndarray] | None) -> None:
        if self.info is not None:
            position, slate = (None, None) if propensities is None else propensities
            self.rec.step(self.t, self.info, slates, reward, terminated, truncated, info,
                          day=day, propensity=position, slate_propensity=slate,
                          item_reward=item_rewards(self.env, info))
        self.t += 1
        self.info = info


def _source(policy: Any, propensity: PropensitySource | None) -> tuple[str, Any]:
    """The label and the propensity source of the wrappers' ``policy`` / ``propensity``."""
    if isinstance(policy, str):
        return policy, propensity
    if not callable(getattr(policy, "recommend", None)):
        raise ConfigError("policy", policy, "a label (str) or the logging policy (with recommend())")
    label = getattr(policy, "name", None) or type(policy).__name__
    return str(label), policy if propensity is None else propensity


class EventLogger(gym.Wrapper):
    """Log every step of a single recarena env to ``folder`` (see the module docstring).

    Args:
        env: a recarena env (possibly wrapped).
        folder: where the Parquet files go (created if missing).
        run: label written in every row.
        policy: the logging policy itself (its ``name`` labels the rows and its
            ``propensity`` / ``slate_propensity`` methods, where it has them, fill the
            propensity columns), or just a label (str): then the propensities are NaN
            unless ``propensity`` says where they come from.
        snapshot_every: steps between user-state snapshots (0: none).
        chunk_rows: rows per Parquet file.
        propensity: where propensities come from, overriding ``policy``: a policy object
            (its methods, as above) or a function ``slates (N, K) -> (N, K)`` giving the
            position-wise propensities only (``slate_propensity`` stays NaN).

    Propensities are asked for before the env steps, about the action being taken: the
    policy must have chosen it in its latest ``recommend`` call. ``seed`` in the log is
    the seed of the latest ``reset(seed=...)`` (-1 before one); ``step`` counts steps
    across episodes.
    """

    def __init__(self, env: gym.Env, folder: str | os.PathLike[str], run: str = "run",
                 policy: Any = "unknown", snapshot_every: int = 10,
                 chunk_rows: int = 100_000, propensity: PropensitySource | None = None) -> None:
        super().__init__(env)
        _check(env, "EventLogger")
        label, source = _source(policy, propensity)
        self._log = _Log(ImpressionRecorder(folder, run, -1, label, 1, snapshot_every,
                                            chunk_rows=chunk_rows), env, source)

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> Any:
        obs, info = self.env.reset(seed=seed, options=options)
        self._log.reset(seed, batch_info(info))
        return obs, info

    def step(self, action: Any) -> Any:
        day = _day(self.env)
        slates = np.asarray(action, dtype=np.int64)[None]
        propensities = self._log.propensities(slates)
        obs, reward, terminated, truncated, info = self.env.step(action)
        self._log.step(day, slates, np.array([reward]), np.array([terminated]),
                       np.array([truncated]), batch_info(info), propensities)
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
                 run: str = "run", policy: Any = "unknown", seed: int = 0,
                 snapshot_every: int = 10, chunk_rows: int = 250_000,
                 propensity: PropensitySource | None = None, candidates: bool = False) -> None:
        super().__init__(env)
        _check(env, "VectorEventLogger")
        label, source = _source(policy, propensity)
        self._log = _Log(ImpressionRecorder(folder, run, seed, label, env.num_envs,
                                            snapshot_every, candidates=candidates,
                                            chunk_rows=chunk_rows), env, source)

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> Any:
        obs, info = self.env.reset(seed=seed, options=options)
        self._log.reset(seed, info)
        return obs, info

    def step(self, actions: Any) -> Any:
        day = _day(self.env)
        slates = np.asarray(actions)
        propensities = self._log.propensities(slates)
        obs, reward, terminated, truncated, info = self.env.step(actions)
        self._log.step(day, slates, reward, terminated, truncated, info, propensities)
        return obs, reward, terminated, truncated, info

    def close(self, **kwargs: Any) -> None:
        self._log.rec.close()
        super().close(**kwargs)
