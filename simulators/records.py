"""Typed records of the simulated world.

Everything here is batched: the leading axis is always the N users of a world. A single-user
environment is a batch of one. Records are NamedTuples of numpy arrays (cheap to build,
comparable by Gymnasium's checker, picklable) or small dataclasses of arrays for mutable
state; :class:`OneHotRows` stands in for a one-hot feature array until it is read.

Shapes use N = users, C = candidates per step, K = slate size, d = feature dimension,
T = number of topics, H = history length.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import NamedTuple

import numpy as np

from recarena.errors import ConfigError
from recarena.simulators.kernels import identity, row_offsets

__all__ = ["ArrayState", "Catalog", "ChoiceOutcome", "Items", "OneHotRows", "Response", "UserBatch"]


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
        return identity(self.depth, dtype).take(self.topic, axis=0)

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
        return Items(self.item_id[t], topic,
                     OneHotRows(topic, feats.depth) if isinstance(feats, OneHotRows) else feats[t],
                     self.quality[t], self.length[t],
                     topic if self.creator_id is self.topic else self.creator_id[t])

    def take(self, index: np.ndarray) -> Items:
        """The items at per-user positions ``index`` (``(N, K)`` ints), as ``(N, K)`` items."""
        n, c = self.item_id.shape
        flat = row_offsets(n, c, index.shape[1]) + index  # row-major positions, shaped like index
        topic = self.topic.take(flat)
        feats = self.features
        return Items(
            self.item_id.take(flat),
            topic,
            OneHotRows(topic, feats.depth) if isinstance(feats, OneHotRows)
            else feats.reshape(n * c, -1).take(flat.ravel(), axis=0).reshape(*index.shape, -1),
            self.quality.take(flat),
            self.length.take(flat),
            # samplers with one creator per topic hand out the same array for both
            topic if self.creator_id is self.topic else self.creator_id.take(flat),
        )


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
class ArrayState:
    """Mutable state of N users as arrays with a leading N axis; subclasses add fields
    (:class:`UserBatch`, the compact worlds' states)."""

    user_id: np.ndarray

    @property
    def size(self) -> int:
        """Number of users N."""
        return int(self.user_id.shape[0])

    def copy(self) -> ArrayState:
        """A deep copy (for snapshots and common-random-number comparisons)."""
        return type(self)(**{f.name: getattr(self, f.name).copy() for f in fields(self)})

    def assign(self, rows: np.ndarray, other: ArrayState) -> None:
        """Overwrite the users at ``rows`` (int indices) with the users of ``other`` (same
        field set, same order)."""
        theirs = vars(other)  # (the instance dicts hold exactly the fields: cheaper than fields())
        for name, arr in vars(self).items():
            arr[rows] = theirs[name]


@dataclass(eq=False)
class UserBatch(ArrayState):
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
        left: bool ``(N,)``; the user has ended the session.
        day: float64 ``(N,)``; the user's calendar time in days (retention worlds).
        long_term: float64 ``(N,)``; long-term satisfaction across sessions (retention).
        session_quality: float64 ``(N,)``; summed quality consumed this session.
        session_consumed: int64 ``(N,)``; items consumed this session.
        sessions: int64 ``(N,)``; sessions started so far.
        last_gap: float64 ``(N,)``; days between the last two sessions (0 before a return).
    """

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
            left=np.zeros(n, dtype=bool),
            day=np.zeros(n),
            long_term=np.zeros(n),
            session_quality=np.zeros(n),
            session_consumed=np.zeros(n, dtype=np.int64),
            sessions=np.ones(n, dtype=np.int64),
            last_gap=np.zeros(n),
        )
