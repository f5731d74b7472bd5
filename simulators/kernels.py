"""Numpy call-overhead kernels: the one place where such tricks live.

A single-user environment steps batches of one, where the fixed cost of a numpy call (a
few hundred nanoseconds to a few microseconds) outweighs the arithmetic; a vector env
steps thousands of users, where numpy's reductions over a short trailing axis are slow.
Each function here names one trick, says why it pays, and states the plain-numpy
expression it equals (bit for bit unless its docstring says otherwise);
``tests/simulators/test_kernels.py`` checks every branch against that expression. The
domain code (users, choice models, catalogs, worlds) calls these by name and is otherwise
plain vectorised numpy.
"""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np

__all__ = [
    "click_passes",
    "click_positions",
    "constant",
    "identity",
    "row_any",
    "row_cumsum",
    "row_offsets",
    "row_sum",
    "scaled_index",
    "smallest",
]

#: Below this many columns, row reductions over a large batch run as column loops: numpy's
#: reductions over a short trailing axis cost ~20x more than K whole-column operations at
#: large N. Under 8 columns numpy sums each row in order, as the loop does.
_SHORT_ROW = 8
#: ... and only for batches of at least this many rows (for ``scaled_index`` and
#: ``smallest``: elements): below it one numpy call is cheaper than a loop of them.
_LARGE = 256


@lru_cache(maxsize=256)
def row_offsets(n: int, stride: int, k: int = 1) -> np.ndarray:
    """``(n, k)`` int64 with row ``i`` filled with ``i * stride``, read-only and cached.

    Plain numpy: ``np.repeat(np.arange(n)[:, None] * stride, k, axis=1)``.

    Added to per-row column indices ``(n, k)`` it gives flat positions into an
    ``(n, stride)`` array, so a per-row gather is one ``take`` (``np.take_along_axis`` is a
    Python-level function with several calls). Why cached and at full shape: the batch
    shapes of a run are few, and numpy's same-shape ufunc path is about twice as fast as a
    broadcast one on small batches.
    """
    out = np.repeat(np.arange(0, n * stride, stride, dtype=np.int64)[:, None], k, axis=1)
    out.flags.writeable = False
    return out


@lru_cache(maxsize=256)
def constant(value: float | bool, shape: tuple[int, ...], dtype: type = np.float64) -> np.ndarray:
    """``np.full(shape, value, dtype=dtype)``, read-only and cached per (value, shape, dtype).

    For signals a model does not produce (all-False, all-NaN), which would otherwise be a
    fresh allocation per step (``np.full`` is a Python-level function). Writing to it
    raises; ``.copy()`` it where the receiver may write.
    """
    out = np.full(shape, value, dtype=dtype)
    out.flags.writeable = False
    return out


@lru_cache(maxsize=16)
def identity(depth: int, dtype: np.dtype | type) -> np.ndarray:
    """``np.eye(depth, dtype=dtype)``, read-only and cached per (depth, dtype): the rows that
    one-hot features are gathered from (``np.eye`` allocates and fills ``depth**2`` entries
    per call). The cache is keyed by the dtype as given."""
    out = np.eye(depth, dtype=dtype)
    out.flags.writeable = False
    return out


def scaled_index(u: np.ndarray, m: float) -> np.ndarray:
    """``(u * m).astype(np.int64)``: for uniforms ``u`` in [0, 1), ``floor(u * m)``, uniform
    on ``[0, m)`` (truncation equals floor for non-negative values). Bit-identical.

    For large arrays the product is cast while it is written (one pass over memory, several
    times faster than a product and a cast); for small ones the two-step form has less call
    overhead.
    """
    if u.size < _LARGE:
        return (u * m).astype(np.int64)
    out = np.empty(u.shape, dtype=np.int64)
    np.multiply(u, m, out=out, casting="unsafe")
    return out


def smallest(x: np.ndarray) -> float:
    """``float(np.min(x))`` for a non-empty float array: the smallest entry, NaN if any entry
    is NaN. Equal in value (the sign of a zero minimum may differ).

    A small array is read through ``tolist`` and Python's ``min``, which cost a quarter of
    a numpy reduction's call overhead; Python's ``min`` ignores NaN's ordering, so a NaN
    sum (a NaN, or ``inf - inf``) is checked for NaN entries first.
    """
    if x.size < _LARGE:
        values = x.ravel().tolist()
        total = sum(values)
        if total != total and any(v != v for v in values):
            return math.nan
        return min(values)
    return float(np.minimum.reduce(x, axis=None))


def row_sum(x: np.ndarray) -> np.ndarray:
    """``np.add.reduce(x, axis=1)`` (``x.sum(axis=1)``) for a 2-D array, fast for short rows.

    Bit-identical but for the sign of a zero: numpy starts each sum from +0.0, so a row of
    -0.0 terms sums to +0.0 there and to -0.0 on the paths here that add the columns
    (a slate of one or two, or a large batch of short rows). Bool input sums to int64, as
    in numpy. Under 8 columns numpy adds each row in order, as the column loop does; for a
    slate of two, ``x[:, 0] + x[:, 1]`` is one call where a reduction costs several.
    """
    n, k = x.shape
    is_bool = x.dtype.kind == "b"
    if k == 2 and not is_bool:
        return np.add(x[:, 0], x[:, 1])
    if k == 0 or k >= _SHORT_ROW or (n < _LARGE and (k > 2 or is_bool)):
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
    """``x.any(axis=1)`` for a 2-D bool array, fast for short rows (a slate of two is one
    ``|``; a large batch of short rows a column loop)."""
    n, k = x.shape
    if k == 2:
        return x[:, 0] | x[:, 1]
    if k == 0 or k >= _SHORT_ROW or (n < _LARGE and k > 2):
        return np.logical_or.reduce(x, axis=1)
    if k == 1:
        return x[:, 0].copy()
    out = x[:, 0] | x[:, 1]
    for j in range(2, k):
        out |= x[:, j]
    return out


def row_cumsum(x: np.ndarray) -> np.ndarray:
    """``np.add.accumulate(x, axis=1)`` (``np.cumsum(x, axis=1)``), bit-identical (both add
    in order from the first column), as a column loop for large batches of short rows."""
    k = x.shape[1]
    if k == 0 or k >= _SHORT_ROW or x.shape[0] < _LARGE:
        return np.add.accumulate(x, axis=1)
    out = np.empty_like(x)
    out[:, 0] = x[:, 0]
    for j in range(1, k):
        np.add(out[:, j - 1], x[:, j], out=out[:, j])
    return out


def click_passes(clicked: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
    """The clicks ``(N, K)`` as passes of ``(rows, positions)`` int arrays with each user at
    most once per pass and each user's clicks in slate order: a batched update applied
    pass after pass applies every user's clicks in order.

    Plain numpy: ``[clicked.nonzero()]`` when no user clicked twice (single-choice models:
    one pass, the common case), else one pass per position with a click,
    ``(np.flatnonzero(clicked[:, k]), np.full(count, k))``; ``[]`` without clicks.
    """
    rows, cols = clicked.nonzero()
    if rows.size <= 1 or not (rows[1:] == rows[:-1]).any():
        return [(rows, cols)] if rows.size else []
    passes = []
    for k in range(clicked.shape[1]):
        r = np.flatnonzero(clicked[:, k])
        if r.size:
            passes.append((r, np.full(r.size, k)))
    return passes


def click_positions(clicked: np.ndarray) -> list[np.ndarray]:
    """:func:`click_passes` as flat positions ``rows * K + positions`` (they index the
    raveled ``(N, K)`` arrays of a slate, and row-offset index arrays, with one ``take``).
    The single-pass case is read off the raveled array: one ``nonzero`` and no product."""
    pos = clicked.ravel().nonzero()[0]
    if pos.size <= 1:
        return [pos] if pos.size else []
    k = clicked.shape[1]
    rows = pos // k
    if not (rows[1:] == rows[:-1]).any():
        return [pos]
    return [rows * k + cols for rows, cols in click_passes(clicked)]
