"""The batched helpers of ``simulators.core`` against their plain-numpy definitions."""

from __future__ import annotations

import numpy as np
import pytest

from recarena.simulators.core import (
    click_passes,
    click_positions,
    index_block,
    row_any,
    row_cumsum,
    row_sum,
    smallest,
)


@pytest.mark.parametrize("shape", [(1, 2), (5, 3), (300, 2), (300, 9)])
def test_click_positions_are_the_passes_flattened(shape: tuple[int, int]) -> None:
    rng = np.random.default_rng(0)
    n, k = shape
    for p in (0.0, 0.1, 0.5, 1.0):
        clicked = rng.random(shape) < p
        passes = click_passes(clicked)
        positions = click_positions(clicked)
        assert len(positions) == len(passes)
        for pos, (rows, cols) in zip(positions, passes, strict=True):
            np.testing.assert_array_equal(pos, rows * k + cols)
            assert np.unique(pos // k).size == pos.size  # each user once per pass
        seen = np.concatenate(positions) if positions else np.zeros(0, dtype=np.int64)
        np.testing.assert_array_equal(np.sort(seen), np.flatnonzero(clicked))


@pytest.mark.parametrize("shape", [(1, 2), (3, 1), (4, 5), (300, 2), (300, 9), (2, 0)])
def test_row_reductions_are_bit_identical_to_numpy(shape: tuple[int, int]) -> None:
    rng = np.random.default_rng(1)
    x = rng.standard_normal(shape)
    b = rng.random(shape) < 0.3
    assert row_sum(x).tobytes() == np.add.reduce(x, axis=1).tobytes()
    assert row_sum(b).tolist() == b.sum(axis=1).tolist()
    assert row_any(b).tolist() == b.any(axis=1).tolist()
    assert row_cumsum(x).tobytes() == np.cumsum(x, axis=1).tobytes()


@pytest.mark.parametrize("values", [[3.0, -1.0], [np.nan, 0.5], [0.5, np.nan], [np.inf, -np.inf],
                                    list(np.linspace(-2, 2, 1000))])
def test_smallest_matches_numpy_minimum(values: list[float]) -> None:
    x = np.asarray(values).reshape(1, -1)
    expected = np.minimum.reduce(x, axis=None)
    got = smallest(x)
    assert (np.isnan(got) and np.isnan(expected)) or got == expected


def test_index_block_is_cached_and_read_only() -> None:
    block = index_block(0, (2, 3))
    np.testing.assert_array_equal(block, np.arange(6).reshape(2, 3))
    assert index_block(0, (2, 3)) is block
    with pytest.raises(ValueError, match="read-only"):
        block[0, 0] = 1
