"""The Policy protocol every recommender policy follows, and what policies share.

A policy sees a *batch*: ``obs`` is a dict of arrays with a leading axis of N users (a
single env is a batch of one) and ``info`` the env's public info, batched the same way
(``user_id`` ``(N,)``, ``candidate_ids`` ``(N, C)``, ...). Privileged truth
(``info["oracle"]``) reaches only policies that declare ``is_oracle = True``; the
evaluation loop strips it for every other policy (:func:`public_info`).

Online learners also implement ``update(obs, slates, response, reward, info=None)``: the
observation and public info the slates were chosen on, the slates ``(N, K)``, the env's
:class:`~recarena.simulators.records.Response` (arrays ``(N, K)``) and rewards ``(N,)``.

**Propensities.** A policy that knows how likely its own slates were also implements
``propensity(slates) -> (N, K)``: the probability that its latest ``recommend`` call put
the shown candidate at that position (Open Bandit Pipeline's position-wise ``pscore``),
and ``slate_propensity(slates) -> (N,)``: the probability of the whole ordered slate. NaN
marks a value the policy cannot compute. The event loggers write both into the event log
(:func:`recarena.eventlog.logged_propensities`). :class:`ReportsPropensity` gives a
policy both methods from a record of how it chose: the top-K of scores with ties broken
uniformly at random (:func:`ranking_propensity`; a ranking without ties gives 1), a fixed
slate (:func:`fixed_propensity`), or an epsilon-mixture with a uniformly random slate
(:func:`uniform_propensity`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

import gymnasium as gym
import numpy as np

from recarena.envs.core import batch_info
from recarena.errors import ConfigError
from recarena.validation import check_choice

__all__ = ["EnvSpec", "OnlinePolicy", "Policy", "ReportsPropensity", "ScoresCandidates", "UserRows",
           "batch_info",
           "env_spec", "fixed_propensity", "public_info",
           "ranking_propensity", "top_k", "uniform_propensity"]


@runtime_checkable
class Policy(Protocol):
    """A recommender policy.

    ``recommend`` takes a batch of observations (each entry of ``obs`` has a leading axis of
    N users) and returns slates ``(N, K)`` of candidate indices, position 0 on top.
    ``reset`` forgets everything learned (the start of a run). Policies with
    ``is_oracle = True`` read privileged truth from ``info["oracle"]``; the evaluation loop
    hands ``info["oracle"]`` to no other policy. Optional: ``propensity(slates)`` and
    ``slate_propensity(slates)`` (see the module docstring), which the event log records.
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


@runtime_checkable
class ScoresCandidates(Protocol):
    """A policy that exposes the per-candidate scores it ranks by, so that a re-ranker
    (:mod:`recarena.agents.rerank`) can compose over it.

    ``candidate_scores(obs, info)`` returns ``(N, C)`` float scores, higher is better, for
    the batch ``recommend`` would be called on, with the same bookkeeping ``recommend``
    does before ranking (the batch's users and candidates, so that ``update`` after it
    learns from the slates shown) and no random draws (ties are the caller's to break).
    Untried arms of an index policy may score ``+inf``.
    """

    def candidate_scores(self, obs: dict[str, np.ndarray],
                         info: dict[str, Any] | None = None) -> np.ndarray:
        ...


def public_info(info: dict[str, Any] | None) -> dict[str, Any] | None:
    """``info`` without its privileged ``oracle`` entry (what a non-oracle policy may see)."""
    if info is None:
        return None
    return {key: value for key, value in info.items() if key != "oracle"}


def top_k(scores: np.ndarray, k: int) -> np.ndarray:
    """Indices of the ``k`` largest entries of each row, largest first (``(N, k)``).

    ``argpartition`` first when rows are long, so the cost is ``O(C + k log k)`` per row.
    Deterministic: for ``C <= 64`` (or ``k >= C``) ties go to the lower index (a stable
    sort); for longer rows, which of several candidates tied at the k-th score is kept is
    ``argpartition``'s choice (the same every call), and the kept ones are ordered with
    lower indices first among ties. Callers that care break ties on purpose (e.g. random)."""
    n, c = scores.shape
    if k >= c or c <= 64:
        return np.argsort(-scores, axis=1, kind="stable")[:, :k]
    part = np.argpartition(-scores, k - 1, axis=1)[:, :k]
    part.sort(axis=1)  # lower index first among ties, as the stable sort would
    order = np.argsort(-np.take_along_axis(scores, part, axis=1), axis=1, kind="stable")
    return np.take_along_axis(part, order, axis=1)


# ----------------------------------------------------------------- propensities
def _as_slates(slates: Any) -> np.ndarray:
    s = np.asarray(slates, dtype=np.int64)
    return s[None] if s.ndim == 1 else s


def _unknown(n: int, k: int) -> tuple[np.ndarray, np.ndarray]:
    return np.full((n, k), np.nan), np.full(n, np.nan)


def uniform_propensity(num_candidates: int, slates: Any) -> tuple[np.ndarray, np.ndarray]:
    """Propensities of a uniformly random ordered slate of K distinct candidates out of C.

    Returns ``(position-wise (N, K), slate (N,))``: every candidate sits at every position
    with probability ``1 / C``, and a given ordered slate has probability
    ``(C - K)! / C! = prod_{j < K} 1 / (C - j)``."""
    s = _as_slates(slates)
    n, k = s.shape
    c = int(num_candidates)
    slate = float(np.prod(1.0 / (c - np.arange(k, dtype=np.float64))))
    return np.full((n, k), 1.0 / c), np.full(n, slate)


def ranking_propensity(scores: Any, slates: Any) -> tuple[np.ndarray, np.ndarray]:
    """Propensities of "the K highest ``scores`` of each row, best first, ties broken
    uniformly at random" (what :func:`~recarena.agents.bandits.mab.rank_random_ties`
    draws; without ties the ranking is deterministic and every value is 0 or 1).

    Candidates with equal scores form a group that fills a run of ranks in uniformly random
    order. A candidate of a group of ``m`` whose run covers rank ``j`` is at ``j`` with
    probability ``1 / m`` (0 outside the run); an ordered slate that takes ``r`` members
    of a group has probability ``(m - r)! / m!`` for that group, multiplied over groups
    (0 if any position is impossible). Returns ``(position-wise (N, K), slate (N,))``."""
    x = np.asarray(scores, dtype=np.float64)
    x = x[None] if x.ndim == 1 else x
    s = _as_slates(slates)
    n, k = s.shape
    if x.ndim != 2 or x.shape[0] != n:
        raise ConfigError("ranking_propensity scores", x.shape, f"shape ({n}, C), one row per slate")
    shown = np.take_along_axis(x, s, axis=1)
    higher = np.empty((n, k))
    tied = np.empty((n, k))
    for j in range(k):
        col = shown[:, j, None]
        higher[:, j] = np.count_nonzero(x > col, axis=1)
        tied[:, j] = np.count_nonzero(x == col, axis=1)
    rank = np.arange(k)
    inside = (higher <= rank) & (rank < higher + tied)
    position = np.zeros((n, k))
    np.divide(1.0, tied, out=position, where=inside)
    # position j's candidate is one of the group members not placed at earlier positions
    earlier = np.tril(np.ones((k, k), dtype=bool), -1)
    before = ((shown[:, :, None] == shown[:, None, :]) & earlier).sum(axis=2)
    free = tied - before
    factor = np.zeros((n, k))
    np.divide(1.0, free, out=factor, where=inside & (free > 0))
    slate = np.where(inside.all(axis=1), factor.prod(axis=1), 0.0)
    return position, slate


def fixed_propensity(chosen: Any, slates: Any) -> tuple[np.ndarray, np.ndarray]:
    """Propensities of a deterministic policy that chose ``chosen`` ``(N, K)``: 1 where the
    shown candidate is the chosen one at that position, else 0; the slate's is 1 when the
    whole slate is the chosen one, else 0. Returns ``(position-wise (N, K), slate (N,))``."""
    c, s = _as_slates(chosen), _as_slates(slates)
    if c.shape != s.shape:
        return _unknown(*s.shape)
    same = c == s
    return same.astype(np.float64), same.all(axis=1).astype(np.float64)


class ReportsPropensity:
    """Mixin for policies that know how they chose their latest slates.

    ``recommend`` records how it chose (:meth:`_chose_ranking` for the top-K of scores
    with random tie-breaking, :meth:`_chose_fixed` for a deterministic choice,
    :meth:`_chose_epsilon` for an epsilon-mixture of a uniformly random slate and a
    ranking, :meth:`_chose_unknown` when the probabilities are not computable, e.g.
    Thompson sampling); :meth:`propensity` and :meth:`slate_propensity` then answer for
    the slates of that call (NaN before any call or for a batch of another size).
    """

    _choice: tuple[Any, ...] | None = None
    _propensity_cache: tuple[Any, ...] | None = None

    def _chose_ranking(self, scores: np.ndarray) -> None:
        self._choice = ("ranking", np.asarray(scores, dtype=np.float64))

    def _chose_fixed(self, slates: np.ndarray) -> None:
        self._choice = ("fixed", _as_slates(slates).copy())

    def _chose_epsilon(self, epsilon: np.ndarray, scores: np.ndarray) -> None:
        self._choice = ("epsilon", np.asarray(scores, dtype=np.float64),
                        np.asarray(epsilon, dtype=np.float64))

    def _chose_unknown(self) -> None:
        self._choice = None

    def _propensities(self, slates: Any) -> tuple[np.ndarray, np.ndarray]:
        s = _as_slates(slates)
        choice = self._choice
        cache = self._propensity_cache
        if cache is not None and cache[0] is choice and np.array_equal(cache[1], s):
            return cache[2]
        if choice is None or choice[1].shape[0] != s.shape[0]:
            out = _unknown(*s.shape)
        elif choice[0] == "fixed":
            out = fixed_propensity(choice[1], s)
        elif choice[0] == "ranking":
            out = ranking_propensity(choice[1], s)
        else:
            scores, eps = choice[1], choice[2]
            up, us = uniform_propensity(scores.shape[1], s)
            rp, rs = ranking_propensity(scores, s)
            out = (eps[:, None] * up + (1.0 - eps[:, None]) * rp, eps * us + (1.0 - eps) * rs)
        self._propensity_cache = (choice, s.copy(), out)
        return out

    def propensity(self, slates: Any) -> np.ndarray:
        """``(N, K)``: the probability that the latest ``recommend`` call put each shown
        candidate at its position (NaN where unknown)."""
        return self._propensities(slates)[0]

    def slate_propensity(self, slates: Any) -> np.ndarray:
        """``(N,)``: the probability that the latest ``recommend`` call chose each whole
        ordered slate (NaN where unknown)."""
        return self._propensities(slates)[1]


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
        if not all(hasattr(base, name) for name in ("num_candidates", "slate_size", "num_items")):
            raise ConfigError("env", env, "a recarena env id, env or vector env")
        space = getattr(base, "single_observation_space", None) or base.observation_space
        spec = getattr(env, "spec", None)
        return EnvSpec(
            env_id=getattr(spec, "id", None),
            num_candidates=int(base.num_candidates),
            slate_size=int(base.slate_size),
            num_items=base.num_items,
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
