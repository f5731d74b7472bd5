"""The slate action space: a ``MultiDiscrete`` whose members are valid slates."""

from __future__ import annotations

from typing import Any

import numpy as np
from gymnasium import spaces

from recarena.errors import InvalidSlate, describe
from recarena.simulators.kernels import row_any, scaled_index
from recarena.validation import check_int

__all__ = ["BatchSlateSpace", "SlateSpace"]


#: int64, compared by identity (numpy hands out its built-in dtype objects): a cheap test
_INT64 = np.dtype(np.int64)

def _integral(a: np.ndarray, action: Any, expected: str) -> np.ndarray:
    """``a`` as integers: integer arrays pass, whole-valued finite floats are converted,
    anything else raises :class:`InvalidSlate`."""
    if a.dtype.kind in "iu":
        return a
    if a.dtype.kind == "f" and np.all(np.isfinite(a)) and np.all(a == np.round(a)):
        return a.astype(np.int64)
    raise InvalidSlate(f"expected {expected}, received {describe(action)}")


class SlateSpace(spaces.MultiDiscrete):
    """Ordered slates of ``slate_size`` distinct indices into ``num_candidates`` candidates.

    It is a :class:`gymnasium.spaces.MultiDiscrete` with ``nvec = [num_candidates] * slate_size``
    (so Gymnasium's checker and stable-baselines3 accept it), except that :meth:`sample`
    draws distinct candidates uniformly over ordered slates and :meth:`contains` rejects a
    slate that repeats a candidate. Position 0 is the top of the slate.

    >>> space = SlateSpace(num_candidates=10, slate_size=3, seed=0)
    >>> slate = space.sample()
    >>> len(set(slate.tolist())) == 3 and space.contains(slate)
    True
    >>> space.contains(np.array([1, 1, 2]))
    False
    """

    def __init__(self, num_candidates: int, slate_size: int, seed: int | np.random.Generator | None = None):
        num_candidates = check_int(num_candidates, "SlateSpace.num_candidates", 1)
        slate_size = check_int(slate_size, "SlateSpace.slate_size", 1, num_candidates)
        self.num_candidates = num_candidates
        self.slate_size = slate_size
        self._expected = f"a slate of {slate_size} distinct integer candidate indices in [0, {num_candidates})"
        super().__init__(np.full(slate_size, num_candidates, dtype=np.int64), dtype=np.int64, seed=seed)

    def sample(self, mask: Any = None, probability: Any = None) -> np.ndarray:
        """A uniformly random valid slate. ``mask``/``probability`` as for ``MultiDiscrete``,
        with duplicates rejected and redrawn."""
        if mask is None and probability is None:
            # The ranks of iid uniforms: every ordered slate is equally likely.
            r = self.np_random.random(self.num_candidates)
            idx = r.argsort()[: self.slate_size]  # intp, which is int64 on 64-bit numpy 2
            return idx if idx.dtype is _INT64 else idx.astype(np.int64)
        for _ in range(10_000):
            slate = super().sample(mask=mask, probability=probability)
            if len(set(slate.tolist())) == self.slate_size:
                return slate
        raise InvalidSlate(f"could not draw a slate of {self.slate_size} distinct candidates "
                           "from the given mask/probability")

    def contains(self, x: Any) -> bool:
        if not super().contains(x):
            return False
        flat = np.asarray(x).ravel().tolist()
        return len(set(flat)) == len(flat)

    def validate(self, action: Any) -> np.ndarray:
        """``action`` as an int64 slate, or :class:`InvalidSlate` saying what is wrong."""
        a = action if type(action) is np.ndarray else np.asarray(action)
        k, c = self.slate_size, self.num_candidates
        expected = self._expected
        if a.shape != (k,):
            raise InvalidSlate(f"expected {expected} (shape ({k},)), received {describe(action)}")
        if a.dtype.kind not in "iu":
            a = _integral(a, action, expected)
        values = a.tolist()
        if min(values) < 0 or max(values) >= c:
            raise InvalidSlate(f"expected {expected}; index out of range in {describe(action)}")
        if len(set(values)) != k:
            raise InvalidSlate(f"expected {expected}; the slate repeats a candidate: {values}")
        return a if a.dtype is _INT64 else a.astype(np.int64)

    def __repr__(self) -> str:
        return f"SlateSpace(num_candidates={self.num_candidates}, slate_size={self.slate_size})"

    def __eq__(self, other: object) -> bool:
        return (isinstance(other, SlateSpace) and other.num_candidates == self.num_candidates
                and other.slate_size == self.slate_size)

    def __hash__(self) -> int:
        return hash((SlateSpace, self.num_candidates, self.slate_size))


def _rows(mask: np.ndarray, limit: int = 10) -> str:
    rows = np.flatnonzero(mask)
    shown = ", ".join(str(r) for r in rows[:limit])
    return f"[{shown}{', ...' if rows.size > limit else ''}] ({rows.size} row(s))"


class BatchSlateSpace(spaces.MultiDiscrete):
    """A batch of ``num_slates`` slates: the action space of recarena's vector envs.

    ``gymnasium.vector.utils.batch_space`` would turn a :class:`SlateSpace` into a plain
    integer ``Box`` whose samples repeat items; this space keeps the slate semantics:
    :meth:`sample` draws a valid slate per row, :meth:`contains` rejects any row with a
    repeated candidate, and :meth:`validate` names the offending rows.

    >>> space = BatchSlateSpace(num_slates=4, num_candidates=10, slate_size=3, seed=0)
    >>> batch = space.sample()
    >>> batch.shape, space.contains(batch)
    ((4, 3), True)
    """

    def __init__(self, num_slates: int, num_candidates: int, slate_size: int,
                 seed: int | np.random.Generator | None = None):
        num_slates = check_int(num_slates, "BatchSlateSpace.num_slates", 1)
        num_candidates = check_int(num_candidates, "BatchSlateSpace.num_candidates", 1)
        slate_size = check_int(slate_size, "BatchSlateSpace.slate_size", 1, num_candidates)
        self.num_slates = num_slates
        self.num_candidates = num_candidates
        self.slate_size = slate_size
        super().__init__(np.full((num_slates, slate_size), num_candidates, dtype=np.int64),
                         dtype=np.int64, seed=seed)

    def sample(self, mask: Any = None, probability: Any = None) -> np.ndarray:
        """Uniformly random valid slates, one per row (``mask``/``probability`` unsupported)."""
        if mask is not None or probability is not None:
            raise InvalidSlate("BatchSlateSpace.sample takes no mask or probability; "
                               f"received mask={describe(mask)}, probability={describe(probability)}")
        n, c, k = self.num_slates, self.num_candidates, self.slate_size
        if k <= 8 and 2 * k <= c:
            # Sequentially: position j is uniform over the c - j unused candidates. Draw
            # b in [0, c - j) and step it past every used index <= it, in increasing order.
            u = self.np_random.random((n, k))
            out = np.empty((n, k), dtype=np.int64)
            used = np.empty((n, 0), dtype=np.int64)
            for j in range(k):
                b = scaled_index(u[:, j], c - j)
                for i in range(j):
                    b += b >= used[:, i]
                out[:, j] = b
                if j + 1 < k:
                    used = np.sort(out[:, : j + 1], axis=1)
            return out
        r = self.np_random.random((n, c))
        if self.slate_size < self.num_candidates:
            # the slate_size smallest uniforms, in increasing order: a uniform ordered slate
            part = np.argpartition(r, self.slate_size - 1, axis=1)[:, : self.slate_size]
            order = np.argsort(np.take_along_axis(r, part, axis=1), axis=1)
            return np.take_along_axis(part, order, axis=1).astype(np.int64)
        return np.argsort(r, axis=1).astype(np.int64)

    def contains(self, x: Any) -> bool:
        if not super().contains(x):
            return False
        srt = np.sort(np.asarray(x), axis=1)
        return not bool((srt[:, 1:] == srt[:, :-1]).any())

    def validate(self, action: Any) -> np.ndarray:
        """``action`` as an int64 ``(num_slates, slate_size)`` array, or
        :class:`InvalidSlate` naming the rows that are not valid slates."""
        a = action if type(action) is np.ndarray else np.asarray(action)
        n, k, c = self.num_slates, self.slate_size, self.num_candidates
        expected = (f"a batch of {n} slates, each {k} distinct integer candidate indices in "
                    f"[0, {c}) (shape ({n}, {k}))")
        if a.shape != (n, k):
            raise InvalidSlate(f"expected {expected}, received {describe(action)}")
        a = _integral(a, action, expected)
        out_of_range = row_any((a < 0) | (a >= c))
        if out_of_range.any():
            raise InvalidSlate(f"expected {expected}; index out of range in rows "
                               f"{_rows(out_of_range)}")
        if k > 1:
            if k <= 6:  # pairwise comparisons beat a row sort for short slates
                repeats = np.zeros(n, dtype=bool)
                for i in range(k - 1):
                    for j in range(i + 1, k):
                        repeats |= a[:, i] == a[:, j]
            else:
                srt = np.sort(a, axis=1)
                repeats = (srt[:, 1:] == srt[:, :-1]).any(axis=1)
            if repeats.any():
                raise InvalidSlate(f"expected {expected}; a candidate is repeated in rows "
                                   f"{_rows(repeats)}")
        return a if a.dtype is _INT64 else a.astype(np.int64)

    def __repr__(self) -> str:
        return (f"BatchSlateSpace(num_slates={self.num_slates}, "
                f"num_candidates={self.num_candidates}, slate_size={self.slate_size})")

    def __eq__(self, other: object) -> bool:
        return (isinstance(other, BatchSlateSpace) and other.num_slates == self.num_slates
                and other.num_candidates == self.num_candidates
                and other.slate_size == self.slate_size)

    def __hash__(self) -> int:
        return hash((BatchSlateSpace, self.num_slates, self.num_candidates, self.slate_size))
