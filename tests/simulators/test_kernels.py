"""Every kernel of ``simulators.kernels`` against the plain-numpy expression its docstring
names, on every branch: short and long rows (the column loops stop at 8 columns), small
and large batches (the loops start at 256 rows or elements), K = 0, 1, 2, 3, 7, 8, 9, bool
and float dtypes, NaN and signed zeros. Bit-identical where the docstring says so, and the
same dtype and shape."""

from __future__ import annotations

import math

import numpy as np
import pytest

from recarena.simulators import kernels
from recarena.simulators.kernels import (
    click_passes,
    click_positions,
    constant,
    identity,
    row_any,
    row_cumsum,
    row_offsets,
    row_sum,
    scaled_index,
    smallest,
)

# (inputs with inf and -inf make NaN sums on purpose)
pytestmark = pytest.mark.filterwarnings("ignore:invalid value encountered:RuntimeWarning")

SMALL, LARGE = kernels._LARGE - 1, kernels._LARGE  # either side of the batch threshold
ROWS = (0, 1, 5, SMALL, LARGE, 600)
COLS = (0, 1, 2, 3, 7, 8, 9, 20)  # kernels._SHORT_ROW == 8


def assert_identical(got: np.ndarray, expected: np.ndarray) -> None:
    """Same dtype, shape and bytes (so NaN payloads and the signs of zeros agree)."""
    assert got.dtype == expected.dtype
    assert got.shape == expected.shape
    np.testing.assert_array_equal(got, expected)
    assert got.tobytes() == expected.tobytes()


def _floats(shape: tuple[int, ...], dtype: type = np.float64, seed: int = 0) -> np.ndarray:
    """Normal draws with some exact zeros of both signs, infinities and NaNs mixed in."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(shape)
    if x.size:
        flat = x.reshape(-1)
        idx = rng.choice(flat.size, size=min(flat.size, 12), replace=False)
        flat[idx[:3]] = 0.0
        flat[idx[3:6]] = -0.0
        flat[idx[6:8]] = np.inf
        flat[idx[8:9]] = -np.inf
        flat[idx[9:10]] = np.nan
    return x.astype(dtype)


def test_the_thresholds_are_the_documented_ones() -> None:
    assert kernels._SHORT_ROW == 8
    assert kernels._LARGE == 256


# ------------------------------------------------------------------ cached arrays
@pytest.mark.parametrize("n", [0, 1, 3, 300])
@pytest.mark.parametrize("stride", [1, 10])
@pytest.mark.parametrize("k", [1, 2, 5])
def test_row_offsets(n: int, stride: int, k: int) -> None:
    got = row_offsets(n, stride, k)
    assert_identical(got, np.repeat(np.arange(n)[:, None] * stride, k, axis=1))
    assert got.dtype == np.int64
    assert row_offsets(n, stride, k) is got
    assert not got.flags.writeable


def test_row_offsets_default_k_is_one() -> None:
    assert_identical(row_offsets(4, 3), np.arange(4)[:, None] * 3)


@pytest.mark.parametrize(("value", "shape", "dtype"), [
    (False, (1,), bool), (True, (3, 2), bool), (np.nan, (5,), np.float64),
    (0.0, (2, 0), np.float64), (-1.5, (4, 3), np.float64), (7, (2,), np.int64),
])
def test_constant(value: float | bool, shape: tuple[int, ...], dtype: type) -> None:
    got = constant(value, shape, dtype)
    assert_identical(got, np.full(shape, value, dtype=dtype))
    assert constant(value, shape, dtype) is got
    assert not got.flags.writeable
    with pytest.raises(ValueError, match="read-only"):
        got[...] = value


def test_constant_defaults_to_float64() -> None:
    assert_identical(constant(np.nan, (3,)), np.full(3, np.nan))


@pytest.mark.parametrize("depth", [1, 2, 20])
@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.dtype(np.float32), bool])
def test_identity(depth: int, dtype: type) -> None:
    got = identity(depth, dtype)
    assert_identical(got, np.eye(depth, dtype=dtype))
    assert identity(depth, dtype) is got
    assert not got.flags.writeable


# ------------------------------------------------------------------ scaled_index
@pytest.mark.parametrize("shape", [(0,), (1,), (10,), (1, 10), (SMALL,), (LARGE,),
                                   (102, 1, 10), (3, 300)])
@pytest.mark.parametrize("m", [1, 2, 20, 20.0, 7.5, 1024, np.array(20.0)])
def test_scaled_index(shape: tuple[int, ...], m: float) -> None:
    u = np.random.default_rng(2).random(shape)
    if u.size:
        u.reshape(-1)[0] = 0.0
        u.reshape(-1)[-1] = np.nextafter(1.0, 0.0)  # the largest uniform
    got = scaled_index(u, m)
    assert_identical(got, (u * m).astype(np.int64))
    assert np.all((got >= 0) & (got < m))


# ------------------------------------------------------------------ smallest
@pytest.mark.parametrize("values", [
    [3.0], [3.0, -1.0], [np.nan, 0.5], [0.5, np.nan], [np.inf, -np.inf], [np.inf, np.inf],
    [-np.inf, 1.0], [np.inf, -np.inf, np.nan], [1.0, np.nan, 2.0], [0.0, -0.0], [-0.0, 0.0],
    list(np.linspace(-2, 2, SMALL)), list(np.linspace(-2, 2, LARGE)),
    list(np.linspace(-2, 2, 1000)),
])
@pytest.mark.parametrize("shape", ["row", "column", "flat"])
def test_smallest(values: list[float], shape: str) -> None:
    x = np.asarray(values)
    x = {"row": x.reshape(1, -1), "column": x.reshape(-1, 1), "flat": x}[shape]
    expected = float(np.min(x))
    got = smallest(x)
    assert type(got) is float
    assert (math.isnan(got) and math.isnan(expected)) or got == expected


@pytest.mark.parametrize("size", [1, 2, 10, SMALL, LARGE, 2000])
def test_smallest_with_a_nan_anywhere(size: int) -> None:
    rng = np.random.default_rng(size)
    x = rng.standard_normal((1, size))
    assert smallest(x) == float(np.min(x))
    for at in {0, size // 2, size - 1}:
        y = x.copy()
        y[0, at] = np.nan
        assert math.isnan(smallest(y))
        y[0, at] = -np.inf
        assert smallest(y) == -np.inf


# ------------------------------------------------------------------ row reductions
@pytest.mark.parametrize("n", ROWS)
@pytest.mark.parametrize("k", COLS)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_row_sum_floats(n: int, k: int, dtype: type) -> None:
    """Bit-identical to ``np.add.reduce`` except for the sign of a zero sum: compared as
    values (which treats -0.0 == +0.0 and NaN == NaN), and bit for bit after ``+ 0.0``
    (which turns -0.0 into +0.0 and leaves everything else as it is)."""
    x = _floats((n, k), dtype, seed=n * 100 + k)
    got, expected = row_sum(x), np.add.reduce(x, axis=1)
    assert got.dtype == expected.dtype and got.shape == expected.shape == (n,)
    np.testing.assert_array_equal(got, expected)
    assert (got + dtype(0.0)).tobytes() == (expected + dtype(0.0)).tobytes()


@pytest.mark.parametrize("n", ROWS)
@pytest.mark.parametrize("k", COLS)
def test_row_sum_finite_floats_bit_identical(n: int, k: int) -> None:
    x = np.random.default_rng(n + k).standard_normal((n, k))
    assert_identical(row_sum(x), np.add.reduce(x, axis=1))
    assert_identical(row_sum(x), x.sum(axis=1))


@pytest.mark.parametrize("n", ROWS)
@pytest.mark.parametrize("k", COLS)
@pytest.mark.parametrize("dtype", [bool, np.int64])
def test_row_sum_bool_and_int(n: int, k: int, dtype: type) -> None:
    x = np.random.default_rng(n + k).random((n, k)) < 0.4
    x = x.astype(dtype) if dtype is not bool else x
    got = row_sum(x)
    assert_identical(got, np.add.reduce(x, axis=1))
    assert got.dtype == np.int64


@pytest.mark.parametrize(("n", "k", "sign"), [
    (1, 1, -1.0), (1, 2, -1.0), (1, 3, 1.0), (1, 9, 1.0),
    (LARGE, 1, -1.0), (LARGE, 2, -1.0), (LARGE, 3, -1.0), (LARGE, 7, -1.0), (LARGE, 8, 1.0),
])
def test_row_sum_of_negative_zeros(n: int, k: int, sign: float) -> None:
    """The documented exception: numpy's reduction starts from +0.0; the column paths (a
    slate of one or two, a large batch of short rows) add -0.0 + -0.0 = -0.0."""
    got = row_sum(np.full((n, k), -0.0))
    assert np.all(got == 0.0)
    assert np.all(np.copysign(1.0, got) == sign)
    assert np.all(np.copysign(1.0, np.add.reduce(np.full((n, k), -0.0), axis=1)) == 1.0)


@pytest.mark.parametrize("n", ROWS)
@pytest.mark.parametrize("k", COLS)
def test_row_any(n: int, k: int) -> None:
    rng = np.random.default_rng(n * 7 + k)
    for p in (0.0, 0.1, 0.5, 1.0):
        x = rng.random((n, k)) < p
        assert_identical(row_any(x), x.any(axis=1))
        assert_identical(row_any(x), np.logical_or.reduce(x, axis=1))


@pytest.mark.parametrize("n", ROWS)
@pytest.mark.parametrize("k", COLS)
@pytest.mark.parametrize("dtype", [np.float64, np.float32, np.int64])
def test_row_cumsum(n: int, k: int, dtype: type) -> None:
    x = _floats((n, k), seed=n + k) if dtype is not np.int64 else \
        np.random.default_rng(n + k).integers(-5, 5, (n, k))
    x = x.astype(dtype)
    assert_identical(row_cumsum(x), np.add.accumulate(x, axis=1))
    assert_identical(row_cumsum(x), np.cumsum(x, axis=1))


def test_row_cumsum_keeps_negative_zeros() -> None:
    for n in (1, LARGE):
        x = np.full((n, 3), -0.0)
        assert_identical(row_cumsum(x), np.add.accumulate(x, axis=1))
        assert np.all(np.signbit(row_cumsum(x)))


def test_row_kernels_read_strided_input() -> None:
    """Views (a column slice of a wider array, a transposed array) are read as numpy does."""
    base = np.random.default_rng(5).standard_normal((LARGE, 10))
    for x in (base[:, 2:5], base[:, ::3], base[:4, :LARGE // 2].T[:, :3]):
        assert_identical(row_sum(x), np.add.reduce(x, axis=1))
        assert_identical(row_cumsum(x), np.add.accumulate(x, axis=1))
        b = x > 0.5
        assert_identical(row_any(b), b.any(axis=1))
        assert_identical(row_sum(b), np.add.reduce(b, axis=1))


def test_row_kernels_return_new_arrays() -> None:
    """No result is a view of its input (callers add to them in place)."""
    for n in (1, LARGE):
        for k in (1, 2, 3):
            x = np.ones((n, k))
            b = np.ones((n, k), dtype=bool)
            for got, src in ((row_sum(x), x), (row_cumsum(x), x), (row_any(b), b),
                             (row_sum(b), b)):
                assert not np.shares_memory(got, src)


# ------------------------------------------------------------------ click passes
def _plain_passes(clicked: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
    """The plain-numpy definition in ``click_passes``' docstring."""
    rows, cols = clicked.nonzero()
    if rows.size == 0:
        return []
    if np.all(clicked.sum(axis=1) <= 1):
        return [(rows, cols)]
    out = []
    for k in range(clicked.shape[1]):
        r = np.flatnonzero(clicked[:, k])
        if r.size:
            out.append((r, np.full(r.size, k)))
    return out


@pytest.mark.parametrize("shape", [(1, 1), (1, 2), (1, 9), (5, 3), (SMALL, 2), (LARGE, 2),
                                   (300, 9), (300, 1), (4, 0), (0, 3)])
@pytest.mark.parametrize("p", [0.0, 0.1, 0.5, 1.0])
def test_click_passes_and_positions(shape: tuple[int, int], p: float) -> None:
    rng = np.random.default_rng(hash(shape) % 1000)
    clicked = rng.random(shape) < p
    _check_passes(clicked)


@pytest.mark.parametrize("rows", [[[True, False, False]], [[False, True, True]],
                                  [[True, False], [False, True]], [[True, True], [False, False]],
                                  [[False, False], [True, True]], [[True, True, True]]])
def test_click_passes_hand_made(rows: list[list[bool]]) -> None:
    _check_passes(np.array(rows, dtype=bool))


def test_click_passes_one_click_per_user_is_one_pass() -> None:
    clicked = np.zeros((LARGE, 4), dtype=bool)
    clicked[np.arange(LARGE), np.arange(LARGE) % 4] = True
    assert len(click_passes(clicked)) == 1
    assert len(click_positions(clicked)) == 1


def _check_passes(clicked: np.ndarray) -> None:
    k = clicked.shape[1]
    passes, expected = click_passes(clicked), _plain_passes(clicked)
    assert len(passes) == len(expected)
    for (rows, cols), (er, ec) in zip(passes, expected, strict=True):
        assert_identical(rows, er)
        assert_identical(cols, ec)
        assert np.unique(rows).size == rows.size  # each user at most once per pass
    positions = click_positions(clicked)
    assert len(positions) == len(passes)
    for pos, (rows, cols) in zip(positions, passes, strict=True):
        assert_identical(pos, rows * k + cols)
    seen = np.concatenate(positions) if positions else np.zeros(0, dtype=np.int64)
    np.testing.assert_array_equal(np.sort(seen), np.flatnonzero(clicked))
    # every user's clicks come in slate order
    order: dict[int, list[int]] = {}
    for rows, cols in passes:
        for r, c in zip(rows.tolist(), cols.tolist(), strict=True):
            order.setdefault(r, []).append(c)
    for r, cs in order.items():
        assert cs == sorted(cs) == np.flatnonzero(clicked[r]).tolist()
