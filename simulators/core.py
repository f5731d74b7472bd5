"""Typed records and protocols of the simulated world.

Everything here is batched: the leading axis is always the N users of a world. A single-user
environment is a batch of one. Records are NamedTuples of numpy arrays (cheap to build,
comparable by Gymnasium's checker, picklable) or small dataclasses of arrays for mutable
state.

Shapes use N = users, C = candidates per step, K = slate size, d = feature dimension,
T = number of topics, H = history length.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field, fields
from functools import lru_cache
from typing import NamedTuple, Protocol, runtime_checkable

import numpy as np

from recarena.errors import ConfigError

__all__ = [
    "CandidateSource",
    "Catalog",
    "ChoiceModel",
    "ChoiceOutcome",
    "Items",
    "OneHotRows",
    "Response",
    "UserBatch",
    "click_passes",
    "click_positions",
    "constant",
    "index_block",
    "record",
    "row_offsets",
    "smallest",
    "scaled_index",
]


#: Below this many columns, row reductions run as column loops: numpy's reductions over a
#: short trailing axis cost ~20x more than K whole-column operations at large N. Under 8
#: columns numpy sums sequentially too, so the results are bit-identical.
_SHORT_ROW = 8
#: ... and only for batches this large: for a few users one numpy call is cheaper.
_LOOP_MIN_ROWS = 256


@lru_cache(maxsize=256)
def row_offsets(n: int, stride: int, k: int = 1) -> np.ndarray:
    """``(n, k)`` int64 with row ``i`` filled with ``i * stride``, read-only and cached.

    Added to per-row column indices ``(n, k)`` it gives flat positions into an
    ``(n, stride)`` array, so a per-row gather is one ``take``. The offsets come at the
    indices' full shape because numpy's same-shape ufunc path is about twice as fast as a
    broadcast one on small batches. The batch shapes of a run are few, so the cache is small.
    """
    out = np.repeat(np.arange(0, n * stride, stride, dtype=np.int64)[:, None], k, axis=1)
    out.flags.writeable = False
    return out


@lru_cache(maxsize=256)
def constant(value: float | bool, shape: tuple[int, ...], dtype: type = np.float64) -> np.ndarray:
    """A read-only array of ``shape`` filled with ``value``, cached per (value, shape, dtype):
    for signals a model does not produce (all-False likes, all-examined positions), which
    would otherwise be a fresh allocation per step. Writing to it raises."""
    out = np.full(shape, value, dtype=dtype)
    out.flags.writeable = False
    return out


def scaled_index(u: np.ndarray, m: int | float | np.ndarray) -> np.ndarray:
    """``floor(u * m)`` as int64 for uniforms ``u`` in [0, 1): uniform on ``[0, m)``.

    For large batches the product is cast while it is written (one pass, several times
    faster than ``(u * m).astype(np.int64)``); for small ones the two-step form has less
    call overhead. Both truncate, which equals floor for non-negative values."""
    if u.size < _LOOP_MIN_ROWS:  # (m may be a 0-d array: numpy's fast path)
        return (u * m).astype(np.int64)
    out = np.empty(u.shape, dtype=np.int64)
    np.multiply(u, m, out=out, casting="unsafe")
    return out


def smallest(x: np.ndarray) -> float:
    """The smallest entry of a non-empty array (``np.minimum.reduce(x, axis=None)``; NaN if
    any entry is NaN). A small batch is read through ``tolist``, which costs a quarter of a
    reduction's call overhead."""
    if x.size < _LOOP_MIN_ROWS:
        values = x.ravel().tolist()
        total = sum(values)
        if total != total and any(v != v for v in values):  # (a NaN sum: a NaN, or inf - inf)
            return math.nan
        return min(values)
    return float(np.minimum.reduce(x, axis=None))


@lru_cache(maxsize=64)
def index_block(first: int, shape: tuple[int, ...]) -> np.ndarray:
    """``np.arange(first, first + prod(shape)).reshape(shape)`` as int64, read-only, cached
    for ``first == 0`` (add an offset to number a batch: one call instead of two)."""
    out = np.arange(first, first + math.prod(shape), dtype=np.int64).reshape(shape)
    out.flags.writeable = False
    return out


def row_sum(x: np.ndarray) -> np.ndarray:
    """``x.sum(axis=1)`` for a 2-D array, fast for short rows (bit-identical: under 8 columns
    numpy sums in order, as the column loop does)."""
    n, k = x.shape
    is_bool = x.dtype.kind == "b"
    if k == 2 and not is_bool:  # the common slate of two: one call
        return np.add(x[:, 0], x[:, 1])
    if k == 0 or k >= _SHORT_ROW or (n < _LOOP_MIN_ROWS and (k > 2 or is_bool)):
        return np.add.reduce(x, axis=1)  # the ufunc itself: .sum() adds a Python layer
    if is_bool:
        out, start = x[:, 0].astype(np.int64), 1
    elif k == 1:
        return x[:, 0].copy()
    else:  # a new array from the first two columns: one call instead of a copy and an add
        out, start = np.add(x[:, 0], x[:, 1]), 2
    for j in range(start, k):
        out += x[:, j]
    return out


def row_any(x: np.ndarray) -> np.ndarray:
    """``x.any(axis=1)`` for a 2-D bool array, fast for short rows."""
    n, k = x.shape
    if k == 2:  # the common slate of two: one call
        return x[:, 0] | x[:, 1]
    if k == 0 or k >= _SHORT_ROW or (n < _LOOP_MIN_ROWS and k > 2):
        return np.logical_or.reduce(x, axis=1)
    if k == 1:
        return x[:, 0].copy()
    out = x[:, 0] | x[:, 1]
    for j in range(2, k):
        out |= x[:, j]
    return out


def row_cumsum(x: np.ndarray) -> np.ndarray:
    """``np.add.accumulate(x, axis=1)`` (sequential, so bit-identical), fast for short rows."""
    k = x.shape[1]
    if k == 0 or k >= _SHORT_ROW or x.shape[0] < _LOOP_MIN_ROWS:
        return np.add.accumulate(x, axis=1)
    out = np.empty_like(x)
    out[:, 0] = x[:, 0]
    for j in range(1, k):
        np.add(out[:, j - 1], x[:, j], out=out[:, j])
    return out


def click_passes(clicked: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
    """Split the clicks ``(N, K)`` into passes of (rows, positions) with each user at most
    once per pass, in slate order. Single-choice models give one pass."""
    rows, cols = clicked.nonzero()
    if rows.size <= 1 or not (rows[1:] == rows[:-1]).any():
        return [(rows, cols)] if rows.size else []
    passes = []
    for k in range(clicked.shape[1]):
        r = np.flatnonzero(clicked[:, k])
        if r.size:
            passes.append((r, np.full(r.size, k)))
    return passes


@lru_cache(maxsize=16)
def _identity(depth: int, dtype: np.dtype | type) -> np.ndarray:
    out = np.eye(depth, dtype=dtype)
    out.flags.writeable = False
    return out


def click_positions(clicked: np.ndarray) -> list[np.ndarray]:
    """:func:`click_passes` as flat positions ``row * K + position``: passes with each user
    at most once per pass, in slate order (flat positions index the raveled ``(N, K)``
    arrays of a slate, and row-offset index arrays, with one ``take``)."""
    pos = clicked.ravel().nonzero()[0]
    if pos.size <= 1:
        return [pos] if pos.size else []
    k = clicked.shape[1]
    rows = pos // k
    if not (rows[1:] == rows[:-1]).any():
        return [pos]
    return [rows * k + cols for rows, cols in click_passes(clicked)]


class OneHotRows:
    """Lazy one-hot features: entry ``[..., j]`` is ``1.0`` where ``topic[...] == j``.

    Stands in for a float32 array of shape ``topic.shape + (depth,)``: samplers whose
    features are the one-hot topic hand this out instead of writing ``N * C * T`` floats
    every step, and the array is materialised only where it is read (an observation, a
    history slot). Indexing, ``astype``, ``np.asarray``, ``copy`` and ``reshape`` behave
    as on the materialised array.
    """

    __slots__ = ("depth", "topic")
    dtype = np.dtype(np.float32)

    def __init__(self, topic: np.ndarray, depth: int) -> None:
        self.topic = topic
        self.depth = int(depth)

    @property
    def shape(self) -> tuple[int, ...]:
        return (*self.topic.shape, self.depth)

    @property
    def ndim(self) -> int:
        return self.topic.ndim + 1

    def materialise(self, dtype: np.dtype | type = np.float32) -> np.ndarray:
        # (the cache is keyed by the dtype as given: np.dtype() per call costs more than a miss)
        return _identity(self.depth, dtype).take(self.topic, axis=0)

    def __array__(self, dtype: np.dtype | None = None, copy: bool | None = None) -> np.ndarray:
        return self.materialise(np.float32 if dtype is None else dtype)

    def astype(self, dtype: np.dtype | type, copy: bool = True) -> np.ndarray:
        return self.materialise(dtype)

    def __getitem__(self, key: object) -> np.ndarray:
        return self.materialise()[key]

    def copy(self) -> OneHotRows:
        return OneHotRows(self.topic.copy(), self.depth)

    def reshape(self, *shape: int) -> np.ndarray:
        return self.materialise().reshape(*shape)

    def __reduce__(self) -> tuple:
        return (OneHotRows, (self.topic, self.depth))


#: ``record(Cls, values)``: a NamedTuple built from a tuple of all its fields, without the
#: Python-level ``__new__`` that ``Cls(...)`` runs (a frame per record). For the records the
#: hot path builds every step; ``values`` must hold every field, in order.
record = tuple.__new__


class Items(NamedTuple):
    """A batch of items: candidates ``(N, C)`` or a slate ``(N, K)``.

    Attributes:
        item_id: int64 ``(N, C)``; unique id of the item in its catalog or sampler.
        topic: int64 ``(N, C)``; topic (cluster) id in ``[0, T)``.
        features: float64 ``(N, C, d)``; the item's observable feature vector.
        quality: float64 ``(N, C)``; latent quality (RecSim's "trashiness/nutritiousness").
        length: float64 ``(N, C)``; duration in minutes.
        creator_id: int64 ``(N, C)``; id of the creator who made the item.
    """

    item_id: np.ndarray
    topic: np.ndarray
    features: np.ndarray
    quality: np.ndarray
    length: np.ndarray
    creator_id: np.ndarray

    def at(self, t: int) -> Items:
        """Entry ``t`` of the leading axis of every field, as views: one step of a block of
        steps drawn at once (see ``ResampledCandidates.sample_steps``)."""
        topic = self.topic[t]
        feats = self.features
        return record(Items, (self.item_id[t], topic,
                              OneHotRows(topic, feats.depth) if type(feats) is OneHotRows else feats[t],
                              self.quality[t], self.length[t],
                              topic if self.creator_id is self.topic else self.creator_id[t]))

    def take(self, index: np.ndarray) -> Items:
        """The items at per-user positions ``index`` (``(N, K)`` ints), as ``(N, K)`` items."""
        n, c = self.item_id.shape
        flat = row_offsets(n, c, index.shape[1]) + index  # row-major positions, shaped like index
        topic = self.topic.take(flat)
        feats = self.features
        return record(Items, (
            self.item_id.take(flat),
            topic,
            OneHotRows(topic, feats.depth) if type(feats) is OneHotRows
            else feats.reshape(n * c, -1).take(flat.ravel(), axis=0).reshape(*index.shape, -1),
            self.quality.take(flat),
            self.length.take(flat),
            # samplers with one creator per topic hand out the same array for both
            topic if self.creator_id is self.topic else self.creator_id.take(flat),
        ))


class ChoiceOutcome(NamedTuple):
    """What a choice model returns for a batch of slates.

    Attributes:
        clicked: bool ``(N, K)``.
        examined: bool ``(N, K)``; positions the user looked at (all positions for
            models that have no examination process, such as MNL).
    """

    clicked: np.ndarray
    examined: np.ndarray


class Response(NamedTuple):
    """A user's response to a slate, batched. Signals a model does not produce are zeros.

    Attributes:
        clicked: bool ``(N, K)``.
        examined: bool ``(N, K)``.
        watch_time: float64 ``(N, K)``; minutes watched (0 where not clicked).
        liked: bool ``(N, K)``.
        shared: bool ``(N, K)``.
        followed: bool ``(N, K)``; the user followed the item's creator.
        left: bool ``(N,)``; the user ended the session after this slate.
    """

    clicked: np.ndarray
    examined: np.ndarray
    watch_time: np.ndarray
    liked: np.ndarray
    shared: np.ndarray
    followed: np.ndarray
    left: np.ndarray


@runtime_checkable
class ChoiceModel(Protocol):
    """Maps per-position scores of a slate to clicks and examined positions."""

    def sample(self, scores: np.ndarray, rng: np.random.Generator) -> ChoiceOutcome:
        """Draw clicks for scores of shape ``(N, K)`` (position 0 is the top)."""
        ...

    def pattern_probabilities(self, scores: np.ndarray) -> np.ndarray:
        """Analytic probability of every click pattern, ``(N, 2**K)``.

        Pattern ``b`` has position ``k`` clicked when bit ``k`` of ``b`` is set.
        """
        ...


@runtime_checkable
class CandidateSource(Protocol):
    """Produces the candidate set each user sees at each step."""

    num_candidates: int
    feature_dim: int
    num_topics: int

    def sample(self, n: int, rng: np.random.Generator) -> Items:
        """Candidates for ``n`` users, shape ``(n, num_candidates)``."""
        ...

    def feature_bounds(self) -> tuple[float, float]:
        """Lower and upper bound of every feature value."""
        ...

    def quality_bounds(self) -> tuple[float, float]:
        """Lower and upper bound of item quality."""
        ...

    def max_length(self) -> float:
        """Upper bound of an item's length (minutes)."""
        ...


@dataclass(frozen=True, eq=False)
class Catalog:
    """A fixed corpus of M items, stored column-wise.

    Attributes:
        features: float64 ``(M, d)``.
        topic: int64 ``(M,)`` in ``[0, num_topics)``.
        quality: float64 ``(M,)``.
        length: float64 ``(M,)``; minutes, > 0.
        creator_id: int64 ``(M,)``; >= 0.
        num_topics: number of topics T (defaults to ``max(topic) + 1``).
        titles: optional item titles (LLM users read them); length M.
    """

    features: np.ndarray
    topic: np.ndarray
    quality: np.ndarray
    length: np.ndarray
    creator_id: np.ndarray
    num_topics: int = -1
    titles: tuple[str, ...] | None = None

    def __post_init__(self) -> None:
        feats = np.asarray(self.features, dtype=np.float64)
        if feats.ndim != 2 or feats.shape[0] == 0:
            raise ConfigError("Catalog.features", feats, "a non-empty 2-D array (items, features)")
        m = feats.shape[0]
        cols = {}
        for name, dtype in (("topic", np.int64), ("quality", np.float64),
                            ("length", np.float64), ("creator_id", np.int64)):
            arr = np.asarray(getattr(self, name))
            if arr.shape != (m,):
                raise ConfigError(f"Catalog.{name}", arr, f"an array of shape ({m},)")
            if dtype is np.int64 and arr.size and not np.issubdtype(arr.dtype, np.integer):
                raise ConfigError(f"Catalog.{name}", arr, "an integer array")
            cols[name] = arr.astype(dtype, copy=True)
        if not np.all(np.isfinite(feats)):
            raise ConfigError("Catalog.features", feats, "finite values")
        if np.any(cols["length"] <= 0) or not np.all(np.isfinite(cols["length"])):
            raise ConfigError("Catalog.length", cols["length"], "finite lengths > 0")
        if np.any(cols["topic"] < 0):
            raise ConfigError("Catalog.topic", cols["topic"], "topic ids >= 0")
        if np.any(cols["creator_id"] < 0):
            raise ConfigError("Catalog.creator_id", cols["creator_id"], "creator ids >= 0")
        num_topics = int(self.num_topics)
        if num_topics == -1:
            num_topics = int(cols["topic"].max()) + 1
        if num_topics <= int(cols["topic"].max()):
            raise ConfigError("Catalog.num_topics", self.num_topics,
                              f"an int > the largest topic id {int(cols['topic'].max())}")
        if self.titles is not None and len(self.titles) != m:
            raise ConfigError("Catalog.titles", self.titles, f"{m} titles, one per item")
        object.__setattr__(self, "features", feats.copy())
        for name, arr in cols.items():
            object.__setattr__(self, name, arr)
        object.__setattr__(self, "num_topics", num_topics)
        onehot = feats.shape[1] == num_topics and bool(
            np.array_equal(feats, np.eye(num_topics)[cols["topic"]]))
        object.__setattr__(self, "_onehot", onehot)
        if self.titles is not None:
            object.__setattr__(self, "titles", tuple(str(t) for t in self.titles))
        for name in ("features", "topic", "quality", "length", "creator_id"):
            getattr(self, name).flags.writeable = False

    @property
    def size(self) -> int:
        """Number of items M."""
        return int(self.features.shape[0])

    @property
    def feature_dim(self) -> int:
        """Feature dimension d."""
        return int(self.features.shape[1])

    @property
    def onehot_topics(self) -> bool:
        """Whether the features are exactly the one-hot encoding of the topic."""
        return bool(self._onehot)  # type: ignore[attr-defined]

    def items(self, index: np.ndarray) -> Items:
        """Items at catalog indices ``index`` (any shape S), as :class:`Items` of shape S."""
        return Items(
            index.astype(np.int64, copy=False),
            self.topic.take(index),
            self.features.take(index, axis=0),
            self.quality.take(index),
            self.length.take(index),
            self.creator_id.take(index),
        )


@dataclass(eq=False)
class UserBatch:
    """Mutable state of N users, one array per quantity (no per-user objects).

    Components that a user model does not use leave their arrays at zero width or zero.

    Attributes:
        user_id: int64 ``(N,)``.
        interests: float64 ``(N, d)``; affinity of the user to each feature, in [-1, 1].
        budget: float64 ``(N,)``; minutes left in the session (RecSim's time budget).
        satiation: float64 ``(N, T)``; per-topic satiation (Leqi et al. 2021).
        novelty_static: float64 ``(N,)``; per-user novelty-seeking propensity in (0, 1).
        novelty_session: float64 ``(N,)``; the propensity in force this session.
        satisfaction: float64 ``(N,)``; running satisfaction (leave model).
        history_item: int64 ``(N, H)``; last H consumed item ids, -1 where empty.
        history_topic: int64 ``(N, H)``; their topics, -1 where empty.
        history_features: float64 ``(N, H, d)``; their features, 0 where empty.
        history_watch: float64 ``(N, H)``; minutes watched of them.
        num_consumed: int64 ``(N,)``; items consumed so far (ring buffer write position).
        steps: int64 ``(N,)``; slates seen this session.
        left: bool ``(N,)``; the user has ended the session.
        day: float64 ``(N,)``; the user's calendar time in days (retention worlds).
        long_term: float64 ``(N,)``; long-term satisfaction across sessions (retention).
        session_quality: float64 ``(N,)``; summed quality consumed this session.
        session_consumed: int64 ``(N,)``; items consumed this session.
        sessions: int64 ``(N,)``; sessions started so far.
        last_gap: float64 ``(N,)``; days between the last two sessions (0 before a return).
    """

    user_id: np.ndarray
    interests: np.ndarray
    budget: np.ndarray
    satiation: np.ndarray
    novelty_static: np.ndarray
    novelty_session: np.ndarray
    satisfaction: np.ndarray
    history_item: np.ndarray
    history_topic: np.ndarray
    history_features: np.ndarray
    history_watch: np.ndarray
    num_consumed: np.ndarray
    steps: np.ndarray
    left: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=bool))
    day: np.ndarray = field(default_factory=lambda: np.zeros(0))
    long_term: np.ndarray = field(default_factory=lambda: np.zeros(0))
    session_quality: np.ndarray = field(default_factory=lambda: np.zeros(0))
    session_consumed: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    sessions: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    last_gap: np.ndarray = field(default_factory=lambda: np.zeros(0))

    @classmethod
    def zeros(cls, n: int, feature_dim: int, num_topics: int, history_length: int) -> UserBatch:
        """A batch of ``n`` users with every quantity at its empty value."""
        return cls(
            user_id=np.arange(n, dtype=np.int64),
            interests=np.zeros((n, feature_dim)),
            budget=np.zeros(n),
            satiation=np.zeros((n, num_topics)),
            novelty_static=np.full(n, 0.5),
            novelty_session=np.full(n, 0.5),
            satisfaction=np.zeros(n),
            history_item=np.full((n, history_length), -1, dtype=np.int64),
            history_topic=np.full((n, history_length), -1, dtype=np.int64),
            history_features=np.zeros((n, history_length, feature_dim)),
            history_watch=np.zeros((n, history_length)),
            num_consumed=np.zeros(n, dtype=np.int64),
            steps=np.zeros(n, dtype=np.int64),
            left=np.zeros(n, dtype=bool),
            day=np.zeros(n),
            long_term=np.zeros(n),
            session_quality=np.zeros(n),
            session_consumed=np.zeros(n, dtype=np.int64),
            sessions=np.ones(n, dtype=np.int64),
            last_gap=np.zeros(n),
        )

    @property
    def size(self) -> int:
        """Number of users N."""
        return int(self.user_id.shape[0])

    def copy(self) -> UserBatch:
        """A deep copy (for snapshots and common-random-number comparisons)."""
        return UserBatch(**{f.name: getattr(self, f.name).copy() for f in fields(self)})

    def assign(self, rows: np.ndarray, other: UserBatch) -> None:
        """Overwrite users ``rows`` (int indices) with the users of ``other`` (same order)."""
        theirs = vars(other)  # (the instance dicts hold exactly the fields: cheaper than fields())
        for name, arr in vars(self).items():
            arr[rows] = theirs[name]


def as_float_tuple(values: Sequence[float] | np.ndarray, name: str, length: int | None = None,
                   low: float = -np.inf, high: float = np.inf) -> np.ndarray:
    """Validate a 1-D float vector parameter; raise :class:`ConfigError` naming ``name``."""
    try:
        arr = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError):
        raise ConfigError(name, values, "a 1-D sequence of numbers") from None
    if arr.ndim != 1 or (length is not None and arr.shape[0] != length):
        want = f"length {length}" if length is not None else "1-D"
        raise ConfigError(name, values, f"a {want} sequence of numbers")
    if not np.all(np.isfinite(arr)) or np.any(arr < low) or np.any(arr > high):
        raise ConfigError(name, values, f"finite values in [{low}, {high}]")
    return arr
