"""Exponentially weighted moving averages (EWMA), the building block of momentum, RMSprop and Adam.

    v_0 = 0;  v_t = beta v_{t-1} + (1 - beta) x_t          (t = 1, 2, ...)
    bias-corrected:  v_t / (1 - beta^t)

Unrolled, v_t = (1 - beta) sum_{k<=t} beta^(t-k) x_k: a weighted mean of the past with weights that decay
by ``beta`` per step (an effective window of about 1 / (1 - beta) steps). Starting from zero biases the
early values towards zero by exactly the factor (1 - beta^t), which the correction divides out.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ._typing import Array
from .errors import ConfigError

_BLOCK = 128  # rows per block: the block matrix stays small, and beta^k never underflows within it


def _check_beta(beta: Any) -> float:
    beta = float(beta)
    if not 0.0 <= beta < 1.0:
        raise ConfigError(f"ewma: beta must be in [0, 1), got {beta!r}; hint: 0.9 averages about 10 steps")
    return beta


def ewma(values: Any, beta: float = 0.9, bias_correction: bool = False) -> Array:
    """The sequence v_1..v_n of v_t = beta v_{t-1} + (1 - beta) x_t, v_0 = 0, along axis 0.

    With ``bias_correction`` each v_t is divided by (1 - beta^t). Floating inputs keep their dtype;
    anything else is computed in float64.

    Shapes: values (n, ...) -> (n, ...).
    """
    beta = _check_beta(beta)
    x = np.asarray(values)
    if not np.issubdtype(x.dtype, np.floating):
        x = x.astype(np.float64)
    if x.ndim == 0:
        raise ConfigError(f"ewma: values must have a time axis (at least 1-D), got a scalar {x!r}")
    n = x.shape[0]
    flat = x.reshape(n, -1)
    out = np.empty_like(flat)
    # Blocks of B steps at once: v_block = L x_block + beta^(1..B) v_prev, with the lower-triangular
    # L[i, j] = (1 - beta) beta^(i - j), which is the recurrence unrolled inside the block.
    lags = np.arange(_BLOCK)
    lag = lags[:, None] - lags[None, :]
    weights = np.where(lag >= 0, (1.0 - beta) * np.power(beta, np.maximum(lag, 0)), 0.0).astype(x.dtype)
    carry = np.power(beta, lags + 1.0).astype(x.dtype)[:, None]
    previous = np.zeros(flat.shape[1], dtype=x.dtype)
    for start in range(0, n, _BLOCK):
        stop = min(start + _BLOCK, n)
        m = stop - start
        block = np.matmul(weights[:m, :m], flat[start:stop], out=out[start:stop])
        block += carry[:m] * previous
        previous = block[-1]
    if bias_correction:
        out /= (1.0 - np.power(beta, np.arange(1.0, n + 1.0))).astype(x.dtype)[:, None]
    return out.reshape(x.shape)


def ewma_update(average: Array, x: Array, beta: float, scratch: Array) -> Array:
    """One EWMA step in place: average = beta average + (1 - beta) x; three passes, no allocation.

    ``scratch`` (same shape as ``average``) is overwritten; it may be ``x`` itself.
    """
    np.multiply(x, 1.0 - beta, out=scratch)
    average *= beta
    average += scratch
    return average


__all__ = ["ewma", "ewma_update"]
