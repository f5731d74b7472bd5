"""The live catalog of a creator world: items join when creators make them and leave when
they expire or their creator leaves; a :class:`~recarena.simulators.protocols.CandidateSource`
over the items live now."""

from __future__ import annotations

import numpy as np

from recarena.errors import ConfigError, ResetNeeded
from recarena.simulators.creators.population import CreatorParams, NewItems
from recarena.simulators.records import Items, OneHotRows
from recarena.validation import check_int

__all__ = ["LiveCatalog", "sample_uniform_distinct"]

_FIELDS = ("item_id", "topic", "quality", "length", "creator_id", "slot", "born", "text")


def sample_uniform_distinct(n: int, c: int, m: int, rng: np.random.Generator) -> np.ndarray:
    """``(n, c)`` indices into ``range(m)``, distinct within each row, uniform over subsets
    (``c <= m``). While ``c * c <= 4 m`` (a row repeats an item with probability at most
    about ``1 - exp(-2)``), rows are drawn with replacement and the rows with a repeat
    redrawn; otherwise each row is the first ``c`` of a random ordering (``O(n m)``)."""
    if c * c <= 4 * m:
        idx = rng.integers(0, m, size=(n, c))
        rows = np.arange(n)
        while True:
            srt = np.sort(idx[rows], axis=1)
            bad = rows[(srt[:, 1:] == srt[:, :-1]).any(axis=1)]
            if bad.size == 0:
                return idx
            idx[bad] = rng.integers(0, m, size=(bad.size, c))
            rows = bad
    return np.argpartition(rng.random((n, m)), c - 1, axis=1)[:, :c] if c < m else \
        np.argsort(rng.random((n, m)), axis=1)


class LiveCatalog:
    """The items live in a creator world, and the candidates drawn from them.

    Every step each user gets ``num_candidates`` distinct live items drawn uniformly
    (:func:`sample_uniform_distinct`); the features are the one-hot topic. The world calls
    :meth:`update` at the end of every creator round: expired items (``item_lifetime``
    rounds after the round they were made in) and the items of creators who left are
    removed, except that the catalog never falls below ``num_candidates`` items: the
    newest of the removed ones are kept (their creator, if gone, keeps its id but no
    longer receives feedback). The round's new items join.

    Item ids count up and wrap around at ``num_item_ids`` (the id space id-based policies
    size their tables by): an id is reused only after ``num_item_ids`` later items, long
    after its item expired (``num_item_ids`` must exceed the most items that can be live
    at once, checked).

    Args:
        num_topics: T (also the feature dimension).
        num_candidates: C, candidates per user and step.
        params: the creators' parameters (quality and length bounds, capacity).
        num_item_ids: the id space; ``None``: 8 times the live capacity.
    """

    generative = False
    onehot_topics = True

    def __init__(self, num_topics: int, num_candidates: int, params: CreatorParams,
                 num_item_ids: int | None = None) -> None:
        if not isinstance(params, CreatorParams):
            raise ConfigError("LiveCatalog.params", params, "a CreatorParams")
        self.num_topics = check_int(num_topics, "LiveCatalog.num_topics", 1)
        self.num_candidates = check_int(num_candidates, "LiveCatalog.num_candidates", 1)
        self.params = params
        #: the most items live at once: every slot at its largest budget for a lifetime,
        #: plus the kept ones
        self.capacity = (params.num_creators * params.budget_high * params.item_lifetime
                         + self.num_candidates)
        if num_item_ids is None:
            num_item_ids = 8 * self.capacity
        self.num_item_ids = check_int(num_item_ids, "LiveCatalog.num_item_ids", self.capacity + 1)
        warm = params.alive_at_reset * params.budget_low * params.item_lifetime
        if warm < self.num_candidates:
            raise ConfigError("CreatorParams.initial_creators", params.alive_at_reset,
                              f"enough creators for {self.num_candidates} candidates at reset: "
                              "initial_creators * budget_low * item_lifetime (now "
                              f"{warm}) >= num_candidates")
        self.next_item = 0
        self.clear()

    # ------------------------------------------------------------------ CandidateSource
    @property
    def feature_dim(self) -> int:
        return self.num_topics

    @property
    def size(self) -> int:
        """Items live now."""
        return int(self.item_id.size)

    def feature_bounds(self) -> tuple[float, float]:
        return 0.0, 1.0

    def quality_bounds(self) -> tuple[float, float]:
        return self.params.quality_bounds()

    def max_length(self) -> float:
        return float(self.params.length_high)

    def sample(self, n: int, rng: np.random.Generator, first_id: int = 0) -> Items:
        """``n`` users' candidates, ``(n, C)`` distinct live items each (``first_id`` is
        unused: items are made by creators, not by sampling)."""
        m = self.size
        if m < self.num_candidates:
            raise ResetNeeded(f"LiveCatalog holds {m} items, fewer than the "
                              f"{self.num_candidates} candidates (not reset?)")
        idx = sample_uniform_distinct(n, self.num_candidates, m, rng)
        topic = self.topic.take(idx)
        return Items(self.item_id.take(idx), topic, OneHotRows(topic, self.num_topics),
                     self.quality.take(idx), self.length.take(idx), self.creator_id.take(idx))

    # ------------------------------------------------------------------ contents
    def clear(self) -> None:
        """No items."""
        self.item_id = np.zeros(0, dtype=np.int64)
        self.topic = np.zeros(0, dtype=np.int64)
        self.quality = np.zeros(0)
        self.length = np.zeros(0)
        self.creator_id = np.zeros(0, dtype=np.int64)
        #: the creator slot of each item; ``num_creators`` for an item whose creator left
        self.slot = np.zeros(0, dtype=np.int64)
        #: the round count (rounds completed) when the item was made
        self.born = np.zeros(0, dtype=np.int64)
        #: object: the ``(title, description)`` its creator wrote (LLM creators), or
        #: ``None`` (a model-made item: it has no text of its own)
        self.text = np.empty(0, dtype=object)

    def copy(self) -> LiveCatalog:
        out = LiveCatalog.__new__(LiveCatalog)
        out.__dict__.update(self.__dict__)
        for name in _FIELDS:
            setattr(out, name, getattr(self, name).copy())
        return out

    def add(self, items: NewItems, born: int, texts: np.ndarray | None = None) -> None:
        """Append ``items`` made when ``born`` rounds were complete; ``texts``: their
        ``(title, description)`` or ``None`` each (object ``(B,)``; default: none)."""
        b = items.topic.size
        if texts is None:
            texts = np.full(b, None, dtype=object)
        elif np.shape(texts) != (b,):
            raise ConfigError("LiveCatalog.add.texts", np.shape(texts),
                              f"one (title, description) or None per item: shape ({b},)")
        ids = (self.next_item + np.arange(b, dtype=np.int64)) % self.num_item_ids
        self.next_item = (self.next_item + b) % self.num_item_ids
        new = {"item_id": ids, "topic": items.topic, "quality": items.quality,
               "length": items.length, "creator_id": items.creator_id, "slot": items.slot,
               "born": np.full(b, born, dtype=np.int64),
               "text": np.asarray(texts, dtype=object)}
        for name in _FIELDS:
            setattr(self, name, np.concatenate([getattr(self, name), new[name]]))

    def update(self, completed: int, left: np.ndarray, items: NewItems,
               texts: np.ndarray | None = None) -> None:
        """End of a round: ``completed`` rounds are complete, the creators in the slots
        ``left`` (bool ``(M,)``) left, ``items`` were made (with ``texts``, see
        :meth:`add`)."""
        m = self.params.num_creators
        gone_creator = np.append(left, False)[self.slot]  # (slot M: already orphaned)
        expired = completed - self.born >= self.params.item_lifetime
        remove = gone_creator | expired
        short = self.num_candidates - (self.size - int(remove.sum()) + items.topic.size)
        if short > 0:  # keep the newest removed items (the order is by age)
            removed = np.flatnonzero(remove)
            remove[removed[-short:]] = False
        keep = ~remove
        for name in _FIELDS:
            setattr(self, name, getattr(self, name)[keep])
        self.slot[np.append(left, False)[self.slot]] = m  # kept items of creators who left
        self.add(items, completed, texts)

    def texts_of(self, item_ids: np.ndarray) -> np.ndarray:
        """Object array shaped like ``item_ids``: the ``(title, description)`` of each live
        item that has one, else ``None`` (a model-made item, or an id not live now)."""
        ids = np.asarray(item_ids, dtype=np.int64)
        out = np.full(ids.shape, None, dtype=object)
        if self.size == 0 or ids.size == 0:
            return out
        order = np.argsort(self.item_id, kind="stable")
        pos = np.minimum(np.searchsorted(self.item_id, ids, sorter=order), self.size - 1)
        row = order[pos]
        found = self.item_id[row] == ids
        out[found] = self.text[row[found]]
        return out

    def counts(self, num_slots: int) -> np.ndarray:
        """``(num_slots + 1, T)`` live items per creator slot (the last row: orphans) and topic."""
        t = self.num_topics
        return np.bincount(self.slot * t + self.topic,
                           minlength=(num_slots + 1) * t).reshape(num_slots + 1, t)
