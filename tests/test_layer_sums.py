"""layers._sums: row sums, row-vector products and column sums equal NumPy's sums on both size paths."""

from __future__ import annotations

import numpy as np
import pytest

from glassnet.layers._sums import _SMALL, column_sums, row_dots, row_products, row_sums


@pytest.mark.parametrize("shape", [(3, 5), (2 * _SMALL // 64, 64), (40, 130), (3, 5000)])
def test_sums_equal_numpy_sums_and_keep_the_dtype(rng, shape):
    x = rng.normal(size=shape)
    v = rng.normal(size=shape[1])
    np.testing.assert_allclose(row_sums(x), x.sum(axis=1), rtol=1e-13, atol=1e-13)
    np.testing.assert_allclose(row_dots(x, v), x @ v, rtol=1e-13, atol=1e-13)
    np.testing.assert_allclose(row_products(x, 2 * x), 2 * (x * x).sum(axis=1), rtol=1e-13, atol=1e-13)
    np.testing.assert_allclose(column_sums(x), x.sum(axis=0), rtol=1e-13, atol=1e-13)
    x32, v32 = x.astype(np.float32), v.astype(np.float32)
    for got in (row_sums(x32), row_dots(x32, v32), row_products(x32, x32), column_sums(x32)):
        assert got.dtype == np.float32
    np.testing.assert_allclose(row_sums(x32), x.sum(axis=1), rtol=1e-4, atol=1e-4)


def test_sums_write_into_out(rng):
    x = rng.normal(size=(100, 70))
    rows, cols = np.full(100, np.nan), np.full(70, np.nan)
    assert row_sums(x, out=rows) is rows
    assert column_sums(x, out=cols) is cols
    np.testing.assert_allclose(rows, x.sum(axis=1), rtol=1e-13)
    np.testing.assert_allclose(cols, x.sum(axis=0), rtol=1e-13)


def test_long_float32_rows_are_summed_pairwise(rng):
    """Rows past 128 entries go through NumPy's pairwise sum: exactly np.add.reduce's result."""
    x = rng.normal(1000.0, 1.0, size=(64, 4096)).astype(np.float32)
    np.testing.assert_array_equal(row_sums(x), np.add.reduce(x, axis=1))
