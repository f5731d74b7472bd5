"""The slate action space: a ``MultiDiscrete`` whose members are valid slates."""

from __future__ import annotations

from typing import Any

import numpy as np
from gymnasium import spaces

from recarena.errors import InvalidSlate, describe
from recarena.validation import check_int

__all__ = ["SlateSpace"]


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
        super().__init__(np.full(slate_size, num_candidates, dtype=np.int64), dtype=np.int64, seed=seed)

    def sample(self, mask: Any = None, probability: Any = None) -> np.ndarray:
        """A uniformly random valid slate. ``mask``/``probability`` as for ``MultiDiscrete``,
        with duplicates rejected and redrawn."""
        if mask is None and probability is None:
            # The ranks of iid uniforms: every ordered slate is equally likely.
            r = self.np_random.random(self.num_candidates)
            return np.argsort(r)[: self.slate_size].astype(np.int64)
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
        expected = f"a slate of {k} distinct integer candidate indices in [0, {c})"
        if a.shape != (k,):
            raise InvalidSlate(f"expected {expected} (shape ({k},)), received {describe(action)}")
        if a.dtype.kind not in "iu":
            if a.dtype.kind == "f" and np.all(np.isfinite(a)) and np.all(a == np.round(a)):
                a = a.astype(np.int64)
            else:
                raise InvalidSlate(f"expected {expected}, received {describe(action)}")
        values = a.tolist()
        if min(values) < 0 or max(values) >= c:
            raise InvalidSlate(f"expected {expected}; index out of range in {describe(action)}")
        if len(set(values)) != k:
            raise InvalidSlate(f"expected {expected}; the slate repeats a candidate: {values}")
        return a if a.dtype == np.int64 else a.astype(np.int64)

    def __repr__(self) -> str:
        return f"SlateSpace(num_candidates={self.num_candidates}, slate_size={self.slate_size})"

    def __eq__(self, other: object) -> bool:
        return (isinstance(other, SlateSpace) and other.num_candidates == self.num_candidates
                and other.slate_size == self.slate_size)

    def __hash__(self) -> int:
        return hash((SlateSpace, self.num_candidates, self.slate_size))
