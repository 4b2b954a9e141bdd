"""Row sums and row-vector products of 2-D arrays through ``np.einsum``, and column sums.

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


def row_sums(x: Array, out: Array | None = None) -> Array:
    """sum_j x[:, j] for a 2-D x."""
    if x.size < _SMALL:
        return np.add.reduce(x, axis=1, out=out)
    return np.einsum("ij->i", x, out=out)


def row_dots(x: Array, v: Array, out: Array | None = None) -> Array:
    """sum_j x[:, j] v[j] for a 2-D x and a vector v (x v without BLAS)."""
    return np.einsum("ij,j->i", x, v, out=out)


def column_sums(g: Array, out: Array | None = None) -> Array:
    """sum_i g[i, :] for a 2-D g (the bias gradient of a layer whose output gradient is g)."""
    return np.add.reduce(g, axis=0, out=out)
