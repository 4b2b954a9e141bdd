"""Row sums and row products of 2-D arrays through ``np.einsum`` (rows of up to 128), and column sums.

A layer norm's statistics and a softmax's normalizer are row sums x 1 (or x v) of (rows, features)
arrays with few features. ``np.add.reduce(x, axis=1)`` runs one reduction loop per row; einsum's
sum-of-products loop reads the array once. Measured on W9's shapes (float32, min of 100, one thread):
row sums of (8192, 64) 0.049 against 0.216 ms, of (2048, 128) 0.024 against 0.074 ms.

BLAS's GEMV (``x @ ones``) was faster still with one thread (0.033 ms) but OpenBLAS splits a GEMV of more
than about 9,000 entries over its threads: with 2 threads on a busy machine one such sum took 12 to 15 ms
(thread wake-up), so no sum here goes through BLAS. Column sums (bias gradients) stay ``np.add.reduce``
over axis 0, which already reads the array row after row in vector blocks.
"""

from __future__ import annotations

import numpy as np

from .._typing import Array

_SMALL = 4096  # below this many entries einsum's subscript parsing costs more than its loop saves
# einsum adds a row in one pass of vector lanes; NumPy's pairwise sum is more accurate on long rows
# (float32 LayerNorm of 4096 features around 1000: 2.7e-4 against 7.2e-5 largest error), and up to 128
# entries it is the same 8-accumulator loop. So rows wider than this go through np.add.reduce.
_WIDE = 128


def _einsum_ok(x: Array) -> bool:
    return x.shape[1] <= _WIDE and x.size >= _SMALL


def row_sums(x: Array, out: Array | None = None) -> Array:
    """sum_j x[:, j] for a 2-D x."""
    if _einsum_ok(x):
        return np.einsum("ij->i", x, out=out)
    return np.add.reduce(x, axis=1, out=out)


def row_dots(x: Array, v: Array, out: Array | None = None) -> Array:
    """sum_j x[:, j] v[j] for a 2-D x and a vector v (x v without BLAS)."""
    if _einsum_ok(x):
        return np.einsum("ij,j->i", x, v, out=out)
    return np.add.reduce(x * v, axis=1, out=out)


def row_products(x: Array, y: Array, out: Array | None = None) -> Array:
    """sum_j x[:, j] y[:, j] for two 2-D arrays of one shape (no product array on the einsum path)."""
    if _einsum_ok(x):
        return np.einsum("ij,ij->i", x, y, out=out)
    return np.add.reduce(x * y, axis=1, out=out)


def column_sums(g: Array, out: Array | None = None) -> Array:
    """sum_i g[i, :] for a 2-D g (the bias gradient of a layer whose output gradient is g)."""
    return np.add.reduce(g, axis=0, out=out)
