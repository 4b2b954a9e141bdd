"""Shared geometry of convolutions and pooling: argument checks, TF/Keras padding, im2col and col2im.

Everything works on 2-D images (batch, height, width, channels); 1-D layers pass ``x[:, None]`` (a view
of height 1), so one set of index arithmetic serves both ranks.

"same" padding follows TensorFlow/Keras for every stride: along an axis of length n with kernel k,
stride s and dilation d (dilated kernel k_eff = (k - 1) d + 1),

    out   = ceil(n / s)
    total = max((out - 1) s + k_eff - n, 0),   before = total // 2,   after = total - before

so an odd total puts the extra zero after the data. "valid" pads nothing: out = floor((n - k_eff) / s) + 1.
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np
from numpy.lib.stride_tricks import as_strided

from .. import backend
from .._typing import Array
from ..errors import ConfigError

Pads = tuple[tuple[int, int], tuple[int, int]]
_SCATTER_BLOCK = 1 << 20  # bytes of one image group's product block in scatter_products (fits the L2 cache)


def keras_name(class_name: str) -> str:
    """Keras' default layer name, numbered per process like every layer's (``backend.unique_name``):
    ``"Conv2D"`` -> ``"conv2d"``, then ``"conv2d_1"``; ``"MaxPooling2D"`` -> ``"max_pooling2d"``
    (glassnet's ``snake_case`` would split the digit from the D)."""
    name = re.sub("(.)([A-Z][a-z]+)", r"\1_\2", class_name)
    return backend.unique_name(re.sub("([a-z])([A-Z])", r"\1_\2", name).lower())


def normalize_tuple(value: Any, rank: int, name: str, layer: str, allow_zero: bool = False) -> tuple[int, ...]:
    """An int or a tuple of ``rank`` ints, as a tuple; a ConfigError names the layer and the value."""
    items = (value,) * rank if isinstance(value, (int, np.integer)) and not isinstance(value, bool) else value
    try:
        items = tuple(items)
    except TypeError:
        items = ()
    low = 0 if allow_zero else 1
    ok = len(items) == rank and all(
        isinstance(v, (int, np.integer)) and not isinstance(v, bool) and v >= low for v in items
    )
    if not ok:
        kind = "non-negative" if allow_zero else "positive"
        raise ConfigError(
            f"{layer}: {name} must be a {kind} int or a tuple of {rank} {kind} ints, got {value!r}; "
            f"hint: e.g. {name}={'3' if rank == 1 else '(3, 3)'}"
        )
    return tuple(int(v) for v in items)


def normalize_padding(value: Any, layer: str, allowed: tuple[str, ...] = ("valid", "same")) -> str:
    padding = value.lower() if isinstance(value, str) else value
    if padding not in allowed:
        raise ConfigError(f"{layer}: padding must be one of {', '.join(map(repr, allowed))}, got {value!r}")
    return str(padding)


def effective_kernel(k: int, d: int) -> int:
    """Size of a kernel of k taps spread d apart: (k - 1) d + 1."""
    return (k - 1) * d + 1


def axis_padding(n: int, k: int, s: int, d: int, padding: str) -> tuple[int, int]:
    """(before, after) zeros along one axis for "valid", "same" (TF rule) or "causal" (all before)."""
    k_eff = effective_kernel(k, d)
    if padding == "valid":
        return 0, 0
    if padding == "causal":
        return k_eff - 1, 0
    total = max((-(-n // s) - 1) * s + k_eff - n, 0)
    return total // 2, total - total // 2


def output_length(n: int, k: int, s: int, d: int, before: int, after: int) -> int:
    """floor((n + before + after - k_eff) / s) + 1 (may be <= 0 when the kernel does not fit)."""
    return (n + before + after - effective_kernel(k, d)) // s + 1


def pad_spatial(x: Array, pads: Pads, value: float = 0.0) -> Array:
    """x (N, H, W, ...) with ``pads`` rows/columns of ``value`` around H and W; x itself if no padding."""
    (top, bottom), (left, right) = pads
    if not (top or bottom or left or right):
        return x
    n, h, w = x.shape[:3]
    out = np.full((n, h + top + bottom, w + left + right) + x.shape[3:], value, dtype=x.dtype)
    out[:, top : top + h, left : left + w] = x
    return out


def crop_spatial(x: Array, pads: Pads, size: tuple[int, int]) -> Array:
    """The inverse of ``pad_spatial``: the (h, w) window that starts after the leading pads (a view)."""
    (top, _), (left, _) = pads
    if x.shape[1:3] == size:
        return x
    return x[:, top : top + size[0], left : left + size[1]]


def window_view(
    xp: Array, out_hw: tuple[int, int], kernel: tuple[int, int], strides: tuple[int, int],
    dilation: tuple[int, int], groups: int = 1,
) -> Array:
    """Read-only view (G, N, Ho, Wo, kh, kw, C // G) of a padded image xp (N, Hp, Wp, C): entry
    [g, n, i, j, p, q, c] is xp[n, i s_h + p d_h, j s_w + q d_w, g C/G + c]. No data are copied."""
    n, _, _, c = xp.shape
    sn, sh, sw, sc = xp.strides
    cg = c // groups
    shape = (groups, n, out_hw[0], out_hw[1], kernel[0], kernel[1], cg)
    steps = (sc * cg, sn, sh * strides[0], sw * strides[1], sh * dilation[0], sw * dilation[1], sc)
    return as_strided(xp, shape=shape, strides=steps, writeable=False)


def im2col(
    xp: Array, out_hw: tuple[int, int], kernel: tuple[int, int], strides: tuple[int, int],
    dilation: tuple[int, int], groups: int = 1, out: Array | None = None, bias_column: bool = False,
) -> Array:
    """Contiguous (G, N Ho Wo, kh kw C/G) patch matrix, row order (n, i, j), column order (p, q, c), which
    is the order of the kernel (kh, kw, C/G, F) reshaped to (kh kw C/G, F): one GEMM per group.

    Memory: N Ho Wo kh kw C itemsize bytes (e.g. 17.8 MB for mnist_convnet's second conv, batch 128, float32).
    ``out``: a C-contiguous buffer of that many elements to write into (a model's reused workspace).
    ``bias_column``: one more column, all ones, after the patch columns: (G, N Ho Wo, kh kw C/G + 1).
    """
    view = window_view(xp, out_hw, kernel, strides, dilation, groups)
    g, n, ho, wo, kh, kw, cg = view.shape
    width = kh * kw * cg
    if bias_column:
        matrix = np.empty((g, n * ho * wo, width + 1), dtype=xp.dtype) if out is None \
            else out.reshape(g, n * ho * wo, width + 1)
        matrix[:, :, width] = 1
        cols = matrix[:, :, :width].reshape(view.shape)  # only splits axes: a view of matrix, never a copy
    else:
        cols = np.empty(view.shape, dtype=xp.dtype) if out is None else out.reshape(view.shape)
        matrix = cols.reshape(g, n * ho * wo, width)
    if cg == 1:
        # one channel: copy per kernel offset, so the inner loop runs along the output width, not over
        # single elements (the view's innermost axis would have length 1)
        for p in range(kh):
            for q in range(kw):
                cols[:, :, :, :, p, q] = view[:, :, :, :, p, q]
    else:
        np.copyto(cols, view)
    return matrix


def col2im(
    cols: Array, padded_shape: tuple[int, ...], out_hw: tuple[int, int], kernel: tuple[int, int],
    strides: tuple[int, int], dilation: tuple[int, int], groups: int = 1,
) -> Array:
    """The adjoint of ``im2col``: sum each patch entry back onto the padded image position it came from.

    ``cols`` (G, N Ho Wo, kh kw C/G) -> (N, Hp, Wp, C), as kh kw strided slice-adds (one per kernel offset;
    each adds a whole (N, Ho, Wo, C) block, so no Python loop runs over samples or positions).
    """
    n, hp, wp, c = padded_shape
    kh, kw = kernel
    ho, wo = out_hw
    cg = c // groups
    blocks = cols.reshape(groups, n, ho, wo, kh, kw, cg)
    out = np.zeros((n, hp, wp, groups, cg), dtype=cols.dtype)
    h_span, w_span = strides[0] * (ho - 1) + 1, strides[1] * (wo - 1) + 1
    for p in range(kh):
        top = p * dilation[0]
        for q in range(kw):
            left = q * dilation[1]
            target = out[:, top : top + h_span : strides[0], left : left + w_span : strides[1]]
            target += np.moveaxis(blocks[:, :, :, :, p, q], 0, 3)
    return out.reshape(padded_shape)


def scatter_products(
    lhs: Array, weights: Array, padded_shape: tuple[int, ...], out_hw: tuple[int, int], strides: tuple[int, int],
    dilation: tuple[int, int],
) -> Array:
    """col2im(lhs @ W) without the (N Ho Wo, kh kw B) matrix: for each kernel offset (p, q) the block
    lhs @ weights[p, q] ((rows, A) x (A, B), one small GEMM into a reused buffer) is added onto the
    pixels that offset touches. ``weights`` is (kh, kw, A, B), C-contiguous; the result (N, Hp, Wp, B).

    Serves Conv2D's input gradient (lhs = dL/dz, weights[p, q] = kernel[p, q]^T) and Conv2DTranspose's
    forward pass (lhs = x, weights[p, q] = kernel[p, q]^T). The images go in groups whose block holds at
    most ``_SCATTER_BLOCK`` bytes, so the block and the output rows it is added to stay in the core's
    cache for the kh kw offsets. Measured CPU time for mnist_convnet's second layer (batch 128, one
    thread): 8.6 to 9.0 ms in groups of 32 to 64 images (1 MB holds 67), 10.1 ms for the whole batch at
    once, 13.2 ms for one large GEMM followed by ``col2im`` (the GEMM alone: 6.7 ms).
    """
    n = padded_shape[0]
    ho, wo = out_hw
    kh, kw, _, b = weights.shape
    out = np.zeros(padded_shape, dtype=np.result_type(lhs.dtype, weights.dtype))
    per_image = ho * wo
    group = max(1, min(n, _SCATTER_BLOCK // (per_image * b * out.itemsize)))
    block = np.empty((group * per_image, b), dtype=out.dtype)
    h_span, w_span = strides[0] * (ho - 1) + 1, strides[1] * (wo - 1) + 1
    for start in range(0, n, group):
        images = min(group, n - start)
        rows, part = lhs[start * per_image : (start + images) * per_image], out[start : start + images]
        tile = block[: images * per_image]
        for p in range(kh):
            top = p * dilation[0]
            for q in range(kw):
                left = q * dilation[1]
                np.matmul(rows, weights[p, q], out=tile)
                part[:, top : top + h_span : strides[0], left : left + w_span : strides[1]] += tile.reshape(
                    images, ho, wo, b)
    return out
