"""What every env family's batched core shares.

An env family is a configuration type, a *core* and a single env class (a
:class:`~recarena.envs.slate.SlateEnv` subclass naming both); its vector env is the same
core with N rows. The core turns a world's batched step into observations, rewards, end
flags and info for all N users at once, which is what makes a one-user vector env step for
step identical to the single env. :class:`~recarena.envs.slate.SlateCore` is the core of
the slate-world families; :class:`ArrayCore` is the base of the compact ones built on an
:class:`~recarena.simulators.world.ArrayWorld`.
"""

from __future__ import annotations

import dataclasses
from operator import itemgetter
from typing import Any

import numpy as np
from gymnasium import spaces

from recarena.errors import ConfigError
from recarena.simulators.records import Response
from recarena.validation import check_int

__all__ = ["ArrayCore", "EnvConfig", "batch_info", "first_row", "first_rows", "replace_fields"]

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


class ArrayCore:
    """Base core over an :class:`~recarena.simulators.world.ArrayWorld` whose steps carry
    ``response`` (a :class:`Response`), ``item_id`` ``(N, K)`` and ``gone`` ``(N,)``.

    Subclasses build ``self.world`` and ``self.observation_space`` in ``__init__`` and
    implement :meth:`observe`, :meth:`rewards` and :meth:`oracle`; :attr:`user_keys` names
    the observation entries that describe the user (refreshed when a user is replaced),
    and :attr:`scalar_oracle` the oracle entries that are one number per user.
    """

    user_keys: tuple[str, ...] = ()
    scalar_oracle: tuple[str, ...] = ()
    #: size of the item catalog candidates come from, or ``None`` when every step brings
    #: new items (RecSim-style generative candidates): id-based policies need a catalog
    num_items: int | None = None

    def __init__(self, config: EnvConfig, world: Any, num_candidates: int, slate_size: int,
                 observation_space: spaces.Dict) -> None:
        self.config = config
        self.world = world
        self.num_candidates = num_candidates
        self.slate_size = slate_size
        self.observation_space = observation_space

    # -- to implement
    def observe(self, out: Any | None) -> dict[str, np.ndarray]:
        raise NotImplementedError

    def rewards(self, out: Any) -> np.ndarray:
        raise NotImplementedError

    def oracle(self) -> dict[str, np.ndarray]:
        raise NotImplementedError

    def observe_user(self, key: str, rows: np.ndarray) -> np.ndarray:
        """The entry ``key`` (one of :attr:`user_keys`) for the users at ``rows``."""
        raise NotImplementedError

    def candidate_ids(self) -> np.ndarray:
        """``(N, C)`` catalog ids of every user's current candidates (a new array)."""
        return self.world.candidates.item_id.copy()

    # -- shared
    def refresh_rows(self, obs: dict[str, np.ndarray], rows: np.ndarray) -> None:
        """After the users at ``rows`` were replaced: their user entries are the new users',
        their last response is empty (as at reset). Candidates do not depend on the user."""
        for key, arr in obs.items():
            if key in self.user_keys:
                arr[rows] = self.observe_user(key, rows)
            elif key.startswith("response_"):
                arr[rows] = 0

    def ended(self, out: Any, steps: np.ndarray | int) -> tuple[np.ndarray, np.ndarray]:
        """``terminated`` where the user is gone; ``truncated`` at the step ``horizon``."""
        terminated = out.gone.copy()
        truncated = np.zeros_like(terminated)
        if self.config.horizon is not None:
            truncated |= np.asarray(steps) >= self.config.horizon
        truncated &= ~terminated
        return terminated, truncated

    def slate_meta(self, out: Any) -> dict[str, np.ndarray]:
        """Public metadata of the shown items, ``(N, K)`` each: ``topic`` and/or
        ``creator_id`` where the family has them (a platform knows both)."""
        return {}

    def step_info(self, out: Any) -> dict[str, Any]:
        """Batched per-step info: the step's ``response``, ``slate_item_ids`` and, where the
        family has them, ``slate_topics`` / ``slate_creator_ids``."""
        info = {"response": out.response, "slate_item_ids": out.item_id}
        for key, arr in self.slate_meta(out).items():
            info[f"slate_{key}s"] = arr
        return info

    def single_info(self, out: Any | None) -> dict[str, Any]:
        """The single env's info: row 0, one-number oracle entries as Python floats."""
        oracle: dict[str, Any] = first_rows(self.oracle())
        for key in self.scalar_oracle:
            oracle[key] = float(oracle[key])
        info: dict[str, Any] = {"oracle": oracle, "user_id": int(self.world.state.user_id[0]),
                                "candidate_ids": self.candidate_ids()[0]}
        if out is not None:
            info["response"] = Response._make(map(first_row, out.response))
            info["examined"] = out.response.examined[0]
            info["slate_item_ids"] = out.item_id[0]
            for key, arr in self.slate_meta(out).items():
                info[f"slate_{key}s"] = arr[0]
        return info

    def render_row(self, row: int, out: Any | None, detail: bool) -> list[str]:
        """Text lines about the user in ``row``: oracle scalars, then the last response."""
        oracle = self.oracle()
        head = f"user {int(self.world.state.user_id[row])}: " + " ".join(
            f"{key}={float(oracle[key][row]):.3g}" for key in self.scalar_oracle)
        if out is None:
            return [head]
        r = out.response
        if not detail:
            return [head + f" clicked={r.clicked[row].astype(int).tolist()}"]
        return [head] + [
            f"  #{k} item={int(out.item_id[row, k])} clicked={bool(r.clicked[row, k])} "
            f"watch={r.watch_time[row, k]:.3g}" for k in range(self.slate_size)]
