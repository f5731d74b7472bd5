"""The env core: one batched step of N users, shared by the single and the vector env.

An env family is a configuration type, an :class:`EnvCore` subclass and a single env class
(a :class:`~recarena.envs.base.CoreEnv` subclass naming both); its vector env is built from
the registration table (:mod:`recarena.envs.vector`). :meth:`EnvCore.step` is the one step
path: it validates nothing (the env's action space does), steps the world, and turns the
world's step record into observations, rewards, end flags and info for all N users. The
vector env hands them out as they are; the single env is a batch of one and hands out row
0 (:func:`first_row_info`). That is why a one-user vector env is step for step identical to
the single env.

Following one step of ``gym.make("recarena/Slate-v0")``::

    CoreEnv.step(action)
      -> SlateSpace.validate(action)                 the (1, K) slate, or InvalidSlate
      -> EnvCore.step(slates)
           -> SlateWorld.step(slates)                -> WorldStep (response, gone, steps,
                                                        next candidates, day)
           -> SlateCore.rewards(out)                 weighted response signals
           -> EnvCore.ended(out)                     terminated = gone; truncated = horizon
           -> SlateCore.observe(out)                 the next observation
           -> EnvCore.step_info(out) + user_info()   what happened + who is there now
      -> first_rows(obs), rewards[0], first_row_info(info)
"""

from __future__ import annotations

import dataclasses
from operator import itemgetter
from typing import Any, NamedTuple

import numpy as np
from gymnasium import spaces

from recarena.errors import ConfigError
from recarena.validation import check_int

__all__ = ["CoreFacts", "CoreStep", "EnvConfig", "EnvCore", "Finished", "batch_info", "first_row",
           "first_row_info", "first_rows", "replace_fields"]

#: ``first_row(a)`` is ``a[0]``; mapped over a batch, it is applied in C, not a Python loop.
first_row = itemgetter(0)


def first_rows(batch: dict[str, Any]) -> dict[str, Any]:
    """Row 0 of every entry of a batched dict (views), in the same key order: how a single
    env reads its one user out of the batched core's outputs."""
    return {key: arr[0] for key, arr in batch.items()}  # (faster than dict(zip(map)))


def replace_fields(config: Any, changes: dict[str, Any]) -> Any:
    """``dataclasses.replace`` that names the allowed fields when ``changes`` has others."""
    allowed = [f.name for f in dataclasses.fields(config)]
    for key in changes:
        if key not in allowed:
            raise ConfigError(type(config).__name__, key, "a field among " + ", ".join(allowed))
    return dataclasses.replace(config, **changes)


def batch_info(info: Any) -> Any:
    """A single env's info as a batch of one: arrays gain a leading axis, numbers become
    ``(1,)`` arrays, dicts and NamedTuples (a ``Response``) are batched entry by entry."""
    if isinstance(info, dict):
        return {key: batch_info(value) for key, value in info.items()}
    if isinstance(info, tuple) and hasattr(info, "_fields"):
        return type(info)._make(batch_info(v) for v in info)
    if isinstance(info, np.ndarray):
        return info[None]
    if isinstance(info, (bool, int, float, np.number, np.bool_)):
        return np.asarray([info])
    return info


@dataclasses.dataclass(frozen=True)
class EnvConfig:
    """Base of the compact families' configurations: ``horizon`` and :meth:`replace`."""

    horizon: int | None = None

    def __post_init__(self) -> None:
        if self.horizon is not None:
            check_int(self.horizon, f"{type(self).__name__}.horizon", 1)

    def replace(self, **changes: Any) -> Any:
        """A copy with ``changes``; unknown names raise ``ConfigError`` listing the allowed ones."""
        return replace_fields(self, changes)


class Finished(NamedTuple):
    """The users whose episode ended in a step of an autoresetting core (see
    :meth:`EnvCore.step`): their ``rows``, last observations (``(len(rows), ...)`` per key),
    ``user_id`` and episode ``length`` in steps."""

    rows: np.ndarray
    obs: dict[str, np.ndarray]
    user_id: np.ndarray
    length: np.ndarray


class CoreStep(NamedTuple):
    """What :meth:`EnvCore.step` returns: the world's step record ``out``, batched
    ``obs``, ``rewards`` ``(N,)``, ``terminated`` / ``truncated`` ``(N,)`` and ``info``, and
    the ``finished`` users (``None`` without autoreset or when nobody finished)."""

    out: Any
    obs: dict[str, np.ndarray]
    rewards: np.ndarray
    terminated: np.ndarray
    truncated: np.ndarray
    info: dict[str, Any]
    finished: Finished | None


class EnvCore:
    """The batched core of an env family: N users of a world, their observations, rewards,
    end flags and info. The single env is this core with N = 1; the vector env with N rows.

    The world's step record (``out``) carries what the core needs: ``response`` (a
    :class:`~recarena.simulators.records.Response`), ``item_id`` ``(N, K)``, ``gone``
    ``(N,)``, ``steps`` ``(N,)`` (the world's per-user step counter: the horizon reads it)
    and ``candidates`` (the next step's). Observations of the user (interests, history)
    and the oracle read the world's current users.

    Subclasses build ``self.world`` and the single-user ``observation_space`` in
    ``__init__`` and implement :meth:`observe`, :meth:`rewards`, :meth:`oracle` and, when
    the family has user entries in its observation (:attr:`user_keys`),
    :meth:`observe_user`. Optional hooks: :meth:`truncated` (more end conditions),
    :meth:`slate_info` and :meth:`extra_info` (more info), :meth:`item_rewards`.
    """

    #: observation entries that describe the user (refreshed when a user is replaced);
    #: other entries describe candidates (which do not depend on the user) or, as
    #: ``response_*``, the last response (zero for a new user)
    user_keys: tuple[str, ...] = ()
    #: oracle entries that are one number per user (the single env gives Python floats)
    scalar_oracle: tuple[str, ...] = ()
    #: size of the item catalog candidates come from, or ``None`` when every step brings
    #: new items (RecSim-style generative candidates): id-based policies need a catalog
    num_items: int | None = None
    #: whether users have a calendar (days pass between sessions): :meth:`calendar_day`
    has_calendar: bool = False

    def __init__(self, config: Any, world: Any, num_candidates: int, slate_size: int,
                 observation_space: spaces.Dict) -> None:
        self.config = config
        self.world = world
        self.num_candidates = num_candidates
        self.slate_size = slate_size
        self.observation_space = observation_space

    # ------------------------------------------------------------ to implement
    def observe(self, out: Any | None) -> dict[str, np.ndarray]:
        """Batched observations ``(N, ...)`` as new arrays; ``out`` is ``None`` at reset."""
        raise NotImplementedError

    def rewards(self, out: Any) -> np.ndarray:
        """``(N,)`` float64 rewards of a step."""
        raise NotImplementedError

    def oracle(self) -> dict[str, np.ndarray]:
        """Privileged truth about every current user and their candidates, batched."""
        raise NotImplementedError

    def observe_user(self, key: str, rows: np.ndarray) -> np.ndarray:
        """The entry ``key`` (one of :attr:`user_keys`) for the users at ``rows``."""
        raise NotImplementedError

    def item_rewards(self, response: Any, info: dict[str, Any]) -> np.ndarray | None:
        """``(N, K)``: the part of each step's reward that each shown item earned (its own
        weighted signals), from a step's ``response`` and batched ``info``; ``None`` when the
        reward does not split over items. The rest of the reward is user-level."""
        return None

    # ------------------------------------------------------------ hooks
    def truncated(self, out: Any) -> np.ndarray:
        """``(N,)`` bool: the episode is cut off after this step (the step ``horizon``)."""
        horizon = self.config.horizon
        if horizon is None:
            return np.zeros(out.gone.shape, dtype=bool)
        return out.steps >= horizon

    def slate_info(self, out: Any) -> dict[str, np.ndarray]:
        """Public metadata of the shown items, ``(N, K)`` each: ``slate_topics`` and/or
        ``slate_creator_ids`` where the family has them (a platform knows both)."""
        return {}

    def extra_info(self, out: Any) -> dict[str, Any]:
        """The family's own per-step info entries, batched."""
        return {}

    def candidate_ids(self) -> np.ndarray:
        """``(N, C)`` catalog ids of every user's current candidates (a new array)."""
        return self.world.candidates.item_id.copy()

    def calendar_day(self) -> np.ndarray | None:
        """``(N,)`` the current users' calendar day, or ``None`` (no calendar)."""
        return None

    # ------------------------------------------------------------ the step
    def reset(self, num_users: int, rng: np.random.Generator | None
              ) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        """Start ``num_users`` users from ``rng`` (a new world), or, with ``rng=None`` on a
        world already running, replace every user and go on with the world's streams."""
        if rng is not None:
            self.world.reset(num_users, rng)
        else:  # (raises ResetNeeded before a first reset)
            self.world.replace_users(np.arange(num_users))
        return self.observe(None), self.user_info()

    def step(self, slates: np.ndarray, autoreset: bool = False) -> CoreStep:
        """One step of every user for the validated slates ``(N, K)``.

        With ``autoreset`` (the vector env), users whose episode ended are replaced at once
        by new users; their last observations come back in ``finished`` and the returned
        observations and ``user_id`` / ``candidate_ids`` / ``oracle`` are the new users'
        (Gymnasium's same-step autoreset). The step's own entries of ``info``
        (``response``, ``slate_*``, the family's extras) describe the step just taken."""
        out = self.world.step(slates)
        rewards = self.rewards(out)
        terminated, truncated = self.ended(out)
        obs = self.observe(out)
        info = self.step_info(out)
        finished = None
        if autoreset:
            rows = np.flatnonzero(terminated | truncated)
            if rows.size:
                finished = Finished(rows, {key: arr[rows] for key, arr in obs.items()},
                                    self.world.state.user_id[rows], out.steps[rows])
                self.world.replace_users(rows)
                self.refresh_rows(obs, rows)
        info.update(self.user_info())
        return CoreStep(out, obs, rewards, terminated, truncated, info, finished)

    def ended(self, out: Any) -> tuple[np.ndarray, np.ndarray]:
        """``(terminated, truncated)`` after a step: terminated where the user is gone (left,
        or churned with a retention model); truncated by :meth:`truncated`, never both."""
        terminated = out.gone.copy()
        return terminated, self.truncated(out) & ~terminated

    def step_info(self, out: Any) -> dict[str, Any]:
        """What happened in the step: ``response``, ``examined``, ``slate_item_ids`` and,
        where the family has them, ``slate_topics`` / ``slate_creator_ids``, then
        :meth:`extra_info`."""
        return {"response": out.response, "examined": out.response.examined,
                "slate_item_ids": out.item_id, **self.slate_info(out), **self.extra_info(out)}

    def user_info(self) -> dict[str, Any]:
        """Who is in each row now: ``user_id``, ``candidate_ids`` and the ``oracle``."""
        return {"user_id": self.world.state.user_id.copy(), "candidate_ids": self.candidate_ids(),
                "oracle": self.oracle()}

    def refresh_rows(self, obs: dict[str, np.ndarray], rows: np.ndarray) -> None:
        """After the users at ``rows`` were replaced: their user entries are the new users',
        their last response is empty (as at reset). Candidates do not depend on the user."""
        for key, arr in obs.items():
            if key in self.user_keys:
                arr[rows] = self.observe_user(key, rows)
            elif key.startswith("response_"):
                arr[rows] = 0

    # ------------------------------------------------------------ the single env's view
    def first_row_info(self, info: dict[str, Any]) -> dict[str, Any]:
        """The single env's info: :func:`first_row_info`, with the one-number oracle
        entries (:attr:`scalar_oracle`) as Python floats."""
        single = first_row_info(info)
        oracle = single.get("oracle")
        if oracle is not None:
            for key in self.scalar_oracle:
                if key in oracle:
                    oracle[key] = float(oracle[key])
        return single

    def render_row(self, row: int, out: Any | None, detail: bool) -> list[str]:
        """Text lines about the user in ``row``: oracle scalars, then the last response."""
        oracle = self.oracle()
        head = f"user {int(self.world.state.user_id[row])}: " + " ".join(
            f"{key}={float(oracle[key][row]):.3g}" for key in self.scalar_oracle if key in oracle)
        if out is None:
            return [head]
        r = out.response
        if not detail:
            return [head + f" clicked={r.clicked[row].astype(int).tolist()}"]
        meta = {key[6:-1]: arr for key, arr in self.slate_info(out).items()}  # slate_topics -> topic
        return [head] + [
            f"  #{k} item={int(out.item_id[row, k])}"
            + "".join(f" {key}={int(arr[row, k])}" for key, arr in meta.items())
            + f" clicked={bool(r.clicked[row, k])} watch={r.watch_time[row, k]:.3g}"
            for k in range(self.slate_size)]


class CoreFacts:
    """Public facts of an env over an :class:`EnvCore`, for wrappers, runners and agents
    (instead of the core's internals). The vector env gives every row; the single env
    (``single = True``) row 0, and takes and gives its own (unbatched) info."""

    core: EnvCore
    single: bool = False

    def _rows(self, batch: np.ndarray) -> Any:
        return batch[0] if self.single else batch

    @property
    def num_items(self) -> int | None:
        """Size of the item catalog candidates come from; ``None`` when every step brings
        new items (id-based policies need a catalog)."""
        return self.core.num_items

    @property
    def has_calendar(self) -> bool:
        """Whether users have a calendar (days pass between sessions; :meth:`calendar_day`)."""
        return self.core.has_calendar

    @property
    def steps(self) -> Any:
        """Slates shown to each row's current user so far (row 0's in a single env)."""
        steps = self.core.world.steps.copy()
        return self._rows(steps) if steps.size or not self.single else 0

    def calendar_day(self) -> Any:
        """Each row's current user's calendar day, or ``None`` without a calendar (or
        before the first reset)."""
        day = None if self.core.world.state is None else self.core.calendar_day()
        return None if day is None else self._rows(day)

    def item_rewards(self, info: dict[str, Any]) -> np.ndarray | None:
        """``(N, K)`` (``(K,)`` in a single env): the part of a step's reward each shown
        item earned, from that step's ``info``; ``None`` when the family's reward does not
        split over items."""
        batched = batch_info(info) if self.single else info
        out = self.core.item_rewards(batched["response"], batched)
        return None if out is None else self._rows(out)


def first_row_info(info: dict[str, Any]) -> dict[str, Any]:
    """Row 0 of a batched info: what the single env hands out.

    Arrays give their row 0 (views; per-user numbers become Python numbers), dicts and
    NamedTuples (a ``Response``) are taken entry by entry, and Gymnasium's masked entries
    are unmasked: ``key`` is kept only where its mask ``_key`` is True in row 0, and the
    masks themselves are dropped."""
    out: dict[str, Any] = {}
    masks: list[str] = []
    for key, value in info.items():
        kind = type(value)
        if kind is np.ndarray:  # a per-user number becomes a Python number
            out[key] = value.item(0) if value.ndim == 1 else value[0]
            if key[0] == "_":
                masks.append(key)
        elif kind is dict:
            out[key] = first_row_info(value)
        elif isinstance(value, tuple):  # a NamedTuple of arrays
            out[key] = value._make(map(first_row, value))
        else:
            out[key] = value
    for mask in masks:
        if not out.pop(mask):
            out.pop(mask[1:], None)
    return out
