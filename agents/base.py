"""The Policy protocol every recommender policy follows, and what policies share.

A policy sees a *batch*: ``obs`` is a dict of arrays with a leading axis of N users (a
single env is a batch of one) and ``info`` the env's public info, batched the same way
(``user_id`` ``(N,)``, ``candidate_ids`` ``(N, C)``, ...). Privileged truth
(``info["oracle"]``) reaches only policies that declare ``is_oracle = True``; the
evaluation loop strips it for every other policy (:func:`public_info`).

Online learners also implement ``update(obs, slates, response, reward, info=None)``: the
observation and public info the slates were chosen on, the slates ``(N, K)``, the env's
:class:`~recarena.simulators.core.Response` (arrays ``(N, K)``) and rewards ``(N,)``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

import gymnasium as gym
import numpy as np

from recarena.envs.core import batch_info
from recarena.errors import ConfigError
from recarena.validation import check_choice

__all__ = ["EnvSpec", "OnlinePolicy", "Policy", "UserRows", "batch_info", "env_spec",
           "public_info", "top_k"]


@runtime_checkable
class Policy(Protocol):
    """A recommender policy.

    ``recommend`` takes a batch of observations (each entry of ``obs`` has a leading axis of
    N users) and returns slates ``(N, K)`` of candidate indices, position 0 on top.
    ``reset`` forgets everything learned (the start of a run). Policies with
    ``is_oracle = True`` read privileged truth from ``info["oracle"]``; the evaluation loop
    hands ``info["oracle"]`` to no other policy.
    """

    name: str
    is_oracle: bool

    def recommend(self, obs: dict[str, np.ndarray], info: dict[str, Any] | None = None) -> np.ndarray:
        ...

    def reset(self) -> None:
        ...


@runtime_checkable
class OnlinePolicy(Policy, Protocol):
    """A policy that learns from the responses to its own slates."""

    def update(self, obs: dict[str, np.ndarray], slates: np.ndarray, response: Any,
               reward: np.ndarray, info: dict[str, Any] | None = None) -> None:
        ...


def public_info(info: dict[str, Any] | None) -> dict[str, Any] | None:
    """``info`` without its privileged ``oracle`` entry (what a non-oracle policy may see)."""
    if info is None:
        return None
    return {key: value for key, value in info.items() if key != "oracle"}


def top_k(scores: np.ndarray, k: int) -> np.ndarray:
    """Indices of the ``k`` largest entries of each row, largest first (``(N, k)``).

    ``argpartition`` first when rows are long, so the cost is ``O(C + k log k)`` per row;
    ties go to the lower index (stable), so callers break ties on purpose (e.g. random)."""
    n, c = scores.shape
    if k >= c or c <= 64:
        return np.argsort(-scores, axis=1, kind="stable")[:, :k]
    part = np.argpartition(-scores, k - 1, axis=1)[:, :k]
    part.sort(axis=1)  # lower index first among ties, as the stable sort would
    order = np.argsort(-np.take_along_axis(scores, part, axis=1), axis=1, kind="stable")
    return np.take_along_axis(part, order, axis=1)


@dataclass(frozen=True)
class EnvSpec:
    """What a policy needs to know about an env to be built for it (from its spaces and
    configuration, never its state).

    Attributes:
        env_id: the registered id, when known.
        num_candidates: C, candidates offered per step.
        slate_size: K.
        num_items: size of the catalog the candidates come from; ``None`` when every step
            brings new items (id-based policies need a catalog).
        observation_shapes: the single observation's entries and their shapes.
    """

    env_id: str | None
    num_candidates: int
    slate_size: int
    num_items: int | None
    observation_shapes: dict[str, tuple[int, ...]]

    def feature_dim(self, key: str, owner: str) -> int:
        """The last dimension of observation entry ``key`` (a ``(C, d)`` or ``(d,)`` entry)."""
        if key not in self.observation_shapes:
            raise ConfigError(f"{owner}.feature_key", key,
                              "an observation entry of this env: " + ", ".join(self.observation_shapes))
        return int(self.observation_shapes[key][-1])

    def require_catalog(self, owner: str) -> int:
        if self.num_items is None:
            raise ConfigError(f"{owner} env", self.env_id or "this env",
                              "an env whose candidates come from a fixed catalog (items recur, "
                              "so per-item statistics mean something); this env draws new "
                              "items every step")
        return self.num_items


def env_spec(env: Any) -> EnvSpec:
    """The :class:`EnvSpec` of an env id, a (wrapped) single env or a recarena vector env."""
    if isinstance(env, EnvSpec):
        return env
    made = None
    if isinstance(env, str):
        made = env = gym.make(env)
    try:
        base = getattr(env, "unwrapped", env)
        core = getattr(base, "core", None)
        if core is None:
            raise ConfigError("env", env, "a recarena env id, env or vector env")
        space = getattr(base, "single_observation_space", None) or base.observation_space
        spec = getattr(env, "spec", None)
        return EnvSpec(
            env_id=getattr(spec, "id", None),
            num_candidates=int(core.num_candidates),
            slate_size=int(core.slate_size),
            num_items=getattr(core, "num_items", None),
            observation_shapes={key: tuple(sub.shape) for key, sub in space.spaces.items()},
        )
    finally:
        if made is not None:
            made.close()


class UserRows:
    """Which user sits in each row of the batch, for policies that keep per-user state.

    ``scope="user"``: statistics per row, wiped when the row's user changes (a new episode
    or a vector env's replacement user, seen through ``info["user_id"]``); ``"shared"``:
    one set of statistics for all users (a platform-wide learner). :meth:`sync` returns
    the rows whose user is new (their state must be cleared) and :meth:`index` the
    statistics row each batch row reads and writes.
    """

    def __init__(self, scope: str, owner: str) -> None:
        self.scope = check_choice(scope, f"{owner}.scope", ("user", "shared"))
        self.users: np.ndarray | None = None

    @property
    def per_user(self) -> bool:
        return self.scope == "user"

    def reset(self) -> None:
        self.users = None

    def sync(self, info: dict[str, Any] | None, n: int) -> np.ndarray | None:
        """Record the users of a batch of ``n`` rows. Returns ``None`` when the batch size is
        new (all state must be (re)built for ``n`` rows), else the rows with a new user."""
        ids = None if info is None else info.get("user_id")
        ids = np.zeros(n, np.int64) if ids is None else np.asarray(ids).reshape(-1)
        if ids.shape[0] != n:
            raise ConfigError("info['user_id']", ids.shape, f"one user id per row ({n} rows)")
        if self.users is None or self.users.shape[0] != n:
            self.users = ids.copy()
            return None
        changed = np.flatnonzero(ids != self.users)
        self.users = ids.copy()
        return changed

    def index(self, n: int) -> np.ndarray:
        return np.arange(n) if self.per_user else np.zeros(n, np.int64)

    def size(self, n: int) -> int:
        return n if self.per_user else 1


def candidate_ids(info: dict[str, Any] | None, n: int, owner: str,
                  num_items: int | None = None) -> np.ndarray:
    """``info["candidate_ids"]`` as ``(n, C)`` int64, checked against a catalog of
    ``num_items`` when given, or a clear error."""
    if info is None or "candidate_ids" not in info:
        raise ConfigError(f"{owner}.recommend info", None if info is None else sorted(info),
                          "the env's info with 'candidate_ids' (catalog ids of the candidates)")
    ids = np.asarray(info["candidate_ids"], dtype=np.int64)
    if ids.ndim == 1:
        ids = ids[None]
    if ids.ndim != 2 or ids.shape[0] != n:
        raise ConfigError(f"{owner}.recommend info['candidate_ids']", ids.shape, f"shape ({n}, C)")
    if num_items is not None and ids.size and (ids.min() < 0 or ids.max() >= num_items):
        raise ConfigError(f"{owner}.recommend info['candidate_ids']",
                          f"ids in [{ids.min()}, {ids.max()}]",
                          f"catalog ids in [0, {num_items}) (num_items={num_items})")
    return ids


def observation(obs: Any, key: str, owner: str, ndim: int) -> np.ndarray:
    """``obs[key]`` as float64 with a batch axis (``ndim`` dims including it)."""
    if not isinstance(obs, dict) or key not in obs:
        raise ConfigError(f"{owner}.recommend obs", sorted(obs) if isinstance(obs, dict) else obs,
                          f"an observation with a {key!r} entry")
    x = np.asarray(obs[key], dtype=np.float64)
    if x.ndim == ndim - 1:
        x = x[None]
    if x.ndim != ndim:
        raise ConfigError(f"{owner}.recommend obs[{key!r}]", x.shape, f"{ndim} dimensions")
    return x


def batch_size(obs: Any, info: dict[str, Any] | None, owner: str) -> int:
    """N, from ``info["candidate_ids"]`` or else the first observation entry."""
    if info is not None and "candidate_ids" in info:
        ids = np.asarray(info["candidate_ids"])
        return 1 if ids.ndim == 1 else int(ids.shape[0])
    if isinstance(obs, dict) and obs:
        return len(next(iter(obs.values())))
    raise ConfigError(f"{owner}.recommend obs", obs, "a non-empty batched observation dict")
