"""Pooling, channels last: max and average over windows, and their global versions (Keras 3 arguments).

Windows of size (ph, pw) at stride (sh, sw) ("valid": none outside the input; "same": the TF padding rule
of ``_conv_utils``). Every computation is a loop over the ph pw window offsets, each a strided slice of
the whole batch:

    max:      y = max_{p, q} xp[:, i sh + p, j sw + q]        (padding = -inf, never chosen)
              dL/dx gets dL/dy at the first maximum of each window (row-major order), 0 elsewhere
    average:  y = (1 / count) sum_{p, q} xp[:, i sh + p, j sw + q]     (padding = 0)
              dL/dx[window] += dL/dy / count

``count`` is ph pw for "valid"; for "same" it counts only the window's elements inside the input, as
Keras/TF do (``count_include_pad=False`` in PyTorch terms).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .._typing import Array, Shape
from ..errors import ShapeError
from . import _conv_utils as cu
from .base import Layer

_AXES = {1: "(batch, steps, channels)", 2: "(batch, height, width, channels)"}
_POOL_GROUP = 3 << 19  # input bytes per image group in max pooling's backward (_MaxPooling._backward_blocks)


def _check_rank(layer: Layer, input_shape: Shape, rank: int) -> None:
    if len(input_shape) != rank + 1:
        got = "(batch, " + ", ".join(map(str, input_shape)) + ")"
        raise ShapeError(
            f"layer {layer.name!r} ({type(layer).__name__}) expects input of shape {_AXES[rank]}, got {got}; "
            f"hint: a {rank}-D layer takes {rank + 2}-D input (add a channel axis with x[..., None])"
        )


class _Pooling(Layer):
    rank = 2

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls.input_rank = cls.rank + 1  # axes per sample, for the command line's data shapes

    def __init__(self, pool_size: int | tuple[int, ...] = 2, strides: int | tuple[int, ...] | None = None,
                 padding: str = "valid", name: str | None = None, trainable: bool = True) -> None:
        super().__init__(name=name or cu.keras_name(type(self).__name__), trainable=trainable)
        cls = type(self).__name__
        self.pool_size = cu.normalize_tuple(pool_size, self.rank, "pool_size", cls)
        self.strides = self.pool_size if strides is None else cu.normalize_tuple(strides, self.rank, "strides", cls)
        self.padding = cu.normalize_padding(padding, cls)

    def _as2d(self, values: tuple[int, ...]) -> tuple[int, int]:
        return (1, values[0]) if self.rank == 1 else (values[0], values[1])

    def _geometry(self, spatial: Shape) -> tuple[cu.Pads, tuple[int, int]]:
        sizes, k, s = self._as2d(tuple(spatial)), self._as2d(self.pool_size), self._as2d(self.strides)
        pads = tuple(cu.axis_padding(sizes[a], k[a], s[a], 1, self.padding) for a in range(2))
        out = tuple(cu.output_length(sizes[a], k[a], s[a], 1, *pads[a]) for a in range(2))
        if min(out) <= 0:
            raise ShapeError(
                f"layer {self.name!r} ({type(self).__name__}): pool_size {self.pool_size} is larger than the "
                f"input {tuple(spatial)} (padding='valid'); hint: use padding='same' or a smaller pool_size"
            )
        return pads, out  # type: ignore[return-value]

    def build(self, input_shape: Shape) -> None:
        _check_rank(self, input_shape, self.rank)
        self._pads, self._out = self._geometry(input_shape[:-1])

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        return self._geometry(input_shape[:-1])[1][2 - self.rank :] + (input_shape[-1],)

    def _windows(self, xp: Array) -> Any:
        """For each window offset (p, q), row-major, the (N, Ho, Wo, C) values at that offset (views of xp)."""
        (ph, pw), (sh, sw) = self._as2d(self.pool_size), self._as2d(self.strides)
        ho, wo = self._out
        blocks = self._blocks(xp)
        for p in range(ph):
            for q in range(pw):
                if blocks is not None:
                    yield blocks[:, :, p, :, q]
                else:
                    yield xp[:, p : p + sh * (ho - 1) + 1 : sh, q : q + sw * (wo - 1) + 1 : sw]

    def _blocks(self, xp: Array) -> Array | None:
        """Non-overlapping windows (strides == pool_size) as a view (N, Ho, ph, Wo, pw, C); None otherwise."""
        (ph, pw), (sh, sw) = self._as2d(self.pool_size), self._as2d(self.strides)
        if (ph, pw) != (sh, sw):
            return None
        ho, wo = self._out
        n, _, _, c = xp.shape
        return xp[:, : ho * ph, : wo * pw].reshape(n, ho, ph, wo, pw, c)

    def _reduce(self, xp: Array, ufunc: Any) -> Array:
        """ufunc.reduce over each window into a new (N, Ho, Wo, C) array.

        Non-overlapping windows reduce the rows of each block first, then its columns: the first pass reads
        pw C contiguous values per step, which measured 5x faster (2 ms against 12 ms for a 2 x 2 max over
        (128, 26, 26, 32) float32) than combining the ph pw strided window slices one by one. Both passes
        run over groups of images of about ``_POOL_GROUP // 2`` input bytes, so the row results are read
        back from the cache (measured 1.95 ms against 2.44 ms for that input with cold caches)."""
        blocks = self._blocks(xp)
        if blocks is None:
            windows = self._windows(xp)
            out = np.array(next(windows))
            for window in windows:
                ufunc(out, window, out=out)
            return out
        n, ho, ph, wo, pw, c = blocks.shape
        out = np.empty((n, ho, wo, c), dtype=blocks.dtype)
        group = max(1, _POOL_GROUP // 2 // (blocks[0].size * blocks.itemsize))
        rows = np.empty((min(group, n), ho, wo, pw, c), dtype=blocks.dtype)
        for start in range(0, n, group):
            part = blocks[start : start + group]
            row = rows[: part.shape[0]]
            _fold_into(ufunc, [part[:, :, p] for p in range(ph)], row)
            _fold_into(ufunc, [row[:, :, :, q] for q in range(pw)], out[start : start + group])
        return out

    def _padded_shape(self, shape: tuple[int, ...]) -> tuple[int, ...]:
        (top, bottom), (left, right) = self._pads
        return (shape[0], shape[1] + top + bottom, shape[2] + left + right, shape[3])

    def _overlapping(self) -> bool:
        return any(s < k for s, k in zip(self.strides, self.pool_size))

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "pool_size": list(self.pool_size), "strides": list(self.strides),
                "padding": self.padding}


def _fold_into(ufunc: Any, parts: list[Array], out: Array) -> None:
    """out = ufunc(... ufunc(parts[0], parts[1]) ..., parts[-1])."""
    if len(parts) == 1:
        np.copyto(out, parts[0])
        return
    ufunc(parts[0], parts[1], out=out)
    for part in parts[2:]:
        ufunc(out, part, out=out)


class _MaxPooling(_Pooling):
    # Set by a Sequential while it trains when the layer before ends in ReLU (``Sequential._enter_session``):
    # backward then returns that layer's dL/dz, not dL/dx. Max pooling commutes with ReLU and the first
    # maximum of a window of relu(z) has z > 0 exactly where the window's maximum y is > 0, so
    # dL/dz = (dL/dy * [y > 0]) routed to the first maxima: the ReLU mask costs one pass over the pooled
    # output instead of one over the (pool_size times larger) input.
    # With ``relu_in_forward`` as well (the layer before defers its ReLU: ``_Conv.relu_deferred``), the
    # training forward takes z and returns relu(max z), the same values.
    fuses_relu_input = True
    relu_input = False
    relu_in_forward = False

    def forward(self, x: Array, training: bool = False) -> Array:
        x4 = x[:, None] if self.rank == 1 else x
        xp = cu.pad_spatial(x4, self._pads, -np.inf)
        y = self._reduce(xp, np.maximum)
        if training and self.relu_in_forward:
            np.maximum(y, np.zeros(y.shape[-1], y.dtype), out=y)  # a zero row: faster than the scalar 0
        if training:
            self.cache = {"xp": xp, "y": y, "x_shape": x4.shape}
        return y[:, 0] if self.rank == 1 else y

    def backward(self, grad_output: Array) -> Array:
        """dL/dy to the first maximum of each window (row-major), as PyTorch and TF; 0 elsewhere."""
        xp, y, x_shape = self.read_cache("xp", "y", "x_shape")
        g = grad_output[:, None] if self.rank == 1 else grad_output
        dtype = np.result_type(g.dtype, xp.dtype)
        blocks = self._blocks(xp)
        if blocks is not None and g.shape == y.shape:
            grad_xp = self._backward_blocks(blocks, y, g, xp.shape, dtype)
        else:
            if self.relu_input:  # dL/dz of the ReLU before (see fuses_relu_input)
                g = np.multiply(np.greater(y, 0, out=np.empty(np.broadcast_shapes(y.shape, g.shape), dtype)), g)
            grad_xp = np.zeros(xp.shape, dtype=dtype)
            taken: Array | None = None  # windows whose maximum already got the gradient
            hit = np.empty(y.shape, dtype=bool)
            for window, target in zip(self._windows(xp), self._windows(grad_xp)):
                np.equal(window, y, out=hit)
                if taken is None:
                    taken = hit.copy()
                else:
                    np.greater(hit, taken, out=hit)  # hit and not taken: the first maximum only
                    taken |= hit
                target += g * hit
        grad_x = cu.crop_spatial(grad_xp, self._pads, x_shape[1:3])
        return grad_x[:, 0] if self.rank == 1 else grad_x

    def _backward_blocks(self, blocks: Array, y: Array, g: Array, shape: tuple[int, ...], dtype: Any) -> Array:
        """Non-overlapping windows, in groups of images of about ``_POOL_GROUP`` input bytes (so a group's
        masks stay in the core's cache; measured 4.2 ms against 5.0 ms for (128, 26, 26, 32) float32 with
        cold caches, as in a training step): per group one broadcast comparison of the blocks with y, ties
        resolved on the boolean mask, one product with dL/dy.

        The mask is laid out offset-major, (N, Ho, ph, pw, Wo, C), so the tie passes run over contiguous
        (Wo, C) rows. They run only when there are more hits than windows that take one (every window
        whose maximum is not NaN has at least one), which real-valued inputs rarely have (after a ReLU,
        all-zero windows do)."""
        n, ho, ph, wo, pw, c = blocks.shape
        tiled = shape[1:3] == (ho * ph, wo * pw)
        grad_xp = (np.empty if tiled else np.zeros)(shape, dtype=dtype)  # tiled: every entry is written
        target = grad_xp[:, : ho * ph, : wo * pw].reshape(blocks.shape)
        valid = y > 0 if self.relu_input else y == y  # after a ReLU only windows with y > 0 need their hit
        group = max(1, _POOL_GROUP // (blocks[0].size * blocks.itemsize))
        offset_major = np.empty((min(group, n), ho, ph, pw, wo, c), dtype=bool)
        relu_grad = np.empty((min(group, n), ho, wo, c), dtype=dtype) if self.relu_input else None
        for start in range(0, n, group):
            part = slice(start, min(start + group, n))
            g_part = g[part]
            if relu_grad is not None:  # dL/dz of the ReLU before (see fuses_relu_input)
                mask = relu_grad[: part.stop - start]
                g_part = np.multiply(np.greater(y[part], 0, out=mask), g_part, out=mask)
            mask = offset_major[: part.stop - start]
            hit = mask.transpose(0, 1, 2, 4, 3, 5)  # (images, Ho, ph, Wo, pw, C), as the blocks
            np.equal(blocks[part], y[part, :, None, :, None, :], out=hit)
            if np.count_nonzero(mask) != np.count_nonzero(valid[part]):  # a tie somewhere
                taken = mask[:, :, 0, 0].copy()
                for p in range(ph):
                    for q in range(pw):
                        if p or q:
                            h = mask[:, :, p, q]
                            np.greater(h, taken, out=h)  # keep a hit only where no earlier offset had one
                            taken |= h
            # the mask as 0.0 / 1.0, then a float product in place: a bool-by-float product casts in
            # buffered blocks (measured 1.4 ms against 1.8 ms for (128, 26, 26, 32) float32)
            out = target[part]
            np.copyto(out, hit)
            out *= g_part[:, :, None, :, None, :]
        return grad_xp


class _AveragePooling(_Pooling):
    def _inverse_count(self, dtype: Any) -> Array | float:
        """1 / (number of input elements in each window): a scalar for "valid", (1, Ho, Wo, 1) for "same"."""
        (ph, pw), (sh, sw) = self._as2d(self.pool_size), self._as2d(self.strides)
        if self.padding == "valid":
            return 1.0 / (ph * pw)
        assert self.input_shape is not None
        sizes = self._as2d(tuple(self.input_shape[:-1]))
        counts = []
        for n, k, s, o, (before, _) in zip(sizes, (ph, pw), (sh, sw), self._out, self._pads):
            start = np.arange(o) * s - before
            counts.append(np.minimum(start + k, n) - np.maximum(start, 0))
        return (1.0 / np.outer(counts[0], counts[1])).astype(dtype)[None, :, :, None]

    def forward(self, x: Array, training: bool = False) -> Array:
        x4 = x[:, None] if self.rank == 1 else x
        y = self._reduce(cu.pad_spatial(x4, self._pads), np.add)
        y *= self._inverse_count(y.dtype)
        if training:
            self.cache = {"x_shape": x4.shape}
        return y[:, 0] if self.rank == 1 else y

    def backward(self, grad_output: Array) -> Array:
        x_shape = self.read_cache("x_shape")
        g = grad_output[:, None] if self.rank == 1 else grad_output
        share = g * self._inverse_count(g.dtype)
        grad_xp = np.zeros(self._padded_shape(x_shape), dtype=share.dtype)
        for target in self._windows(grad_xp):
            target += share
        grad_x = cu.crop_spatial(grad_xp, self._pads, x_shape[1:3])
        return grad_x[:, 0] if self.rank == 1 else grad_x


class MaxPooling2D(_MaxPooling):
    """Max over (ph, pw) windows of (batch, H, W, C); strides default to pool_size."""


class MaxPooling1D(_MaxPooling):
    """Max over windows of pool_size steps of (batch, steps, C); strides default to pool_size."""

    rank = 1


class AveragePooling2D(_AveragePooling):
    """Mean over (ph, pw) windows of (batch, H, W, C); "same" divides by the in-input count."""


class AveragePooling1D(_AveragePooling):
    """Mean over windows of pool_size steps of (batch, steps, C)."""

    rank = 1


class _GlobalPooling(Layer):
    rank = 2

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls.input_rank = cls.rank + 1  # axes per sample, for the command line's data shapes

    def __init__(self, keepdims: bool = False, name: str | None = None, trainable: bool = True) -> None:
        super().__init__(name=name or cu.keras_name(type(self).__name__), trainable=trainable)
        self.keepdims = bool(keepdims)

    def build(self, input_shape: Shape) -> None:
        _check_rank(self, input_shape, self.rank)

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        return ((1,) * self.rank if self.keepdims else ()) + (input_shape[-1],)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "keepdims": self.keepdims}


class _GlobalAveragePooling(_GlobalPooling):
    def forward(self, x: Array, training: bool = False) -> Array:
        """y[n, c] = mean over all positions of x[n, ..., c]."""
        axes = tuple(range(1, self.rank + 1))
        if training:
            self.cache = {"x_shape": x.shape}
        return np.mean(x, axis=axes, keepdims=self.keepdims)

    def backward(self, grad_output: Array) -> Array:
        """dL/dx = dL/dy / (number of positions), broadcast over the positions."""
        x_shape = self.read_cache("x_shape")
        positions = int(np.prod(x_shape[1:-1]))
        g = grad_output.reshape((x_shape[0],) + (1,) * self.rank + (x_shape[-1],))
        return np.broadcast_to(g * (1.0 / positions), x_shape).astype(g.dtype, copy=True)


class _GlobalMaxPooling(_GlobalPooling):
    def forward(self, x: Array, training: bool = False) -> Array:
        """y[n, c] = max over all positions of x[n, ..., c]; backward routes dL/dy to the first maximum."""
        flat = x.reshape(x.shape[0], -1, x.shape[-1])
        if training:
            index = np.argmax(flat, axis=1)[:, None, :]  # argmax returns the first maximum
            self.cache = {"index": index, "x_shape": x.shape}
            y = np.take_along_axis(flat, index, axis=1)[:, 0]
        else:
            y = flat.max(axis=1)
        return y.reshape((x.shape[0],) + (1,) * self.rank + (x.shape[-1],)) if self.keepdims else y

    def backward(self, grad_output: Array) -> Array:
        index, x_shape = self.read_cache("index", "x_shape")
        grad = np.zeros((x_shape[0], int(np.prod(x_shape[1:-1])), x_shape[-1]), dtype=grad_output.dtype)
        np.put_along_axis(grad, index, grad_output.reshape(x_shape[0], 1, x_shape[-1]), axis=1)
        return grad.reshape(x_shape)


class GlobalAveragePooling2D(_GlobalAveragePooling):
    """Mean over height and width: (batch, H, W, C) -> (batch, C) (or (batch, 1, 1, C) with keepdims)."""


class GlobalAveragePooling1D(_GlobalAveragePooling):
    """Mean over steps: (batch, L, C) -> (batch, C).

    With a padding mask m (batch, L) (from ``Embedding(mask_zero=True)`` in a Sequential), the mean over
    the real steps only, as Keras: y[n] = sum_t w[n, t] x[n, t], w = m / max(sum_t m, 1); backward
    dL/dx[n, t] = w[n, t] dL/dy[n]. The mask ends here.
    """

    takes_mask = True

    def forward(self, x: Array, training: bool = False, mask: Array | None = None) -> Array:  # type: ignore[override]
        if mask is None:
            return super().forward(x, training)  # the wrapped forward: builds and checks
        x = np.asarray(x)
        if not self.built:
            self.build(x.shape[1:])
        if np.shape(mask) != x.shape[:2]:
            raise ShapeError(f"layer {self.name!r} (GlobalAveragePooling1D): mask must have shape (batch, steps) = "
                             f"{x.shape[:2]}, got {np.shape(mask)}")
        m = np.asarray(mask, dtype=x.dtype)
        w = m / np.maximum(m.sum(axis=1, keepdims=True), 1)
        if training:
            self.cache = {"x_shape": x.shape, "weights": w}
        y = np.matmul(w[:, None, :], x)  # (batch, 1, C)
        return y if self.keepdims else y[:, 0]

    def backward(self, grad_output: Array) -> Array:
        w = self.cache.get("weights")
        if w is None:
            return super().backward(grad_output)
        g = grad_output.reshape(grad_output.shape[0], 1, -1)
        return w[:, :, None] * g

    forward._glassnet_wrapped = True  # type: ignore[attr-defined]  # builds itself when given a mask

    def compute_mask(self, x: Any, mask: Array | None) -> Array | None:
        return None

    rank = 1


class GlobalMaxPooling2D(_GlobalMaxPooling):
    """Max over height and width: (batch, H, W, C) -> (batch, C)."""


class GlobalMaxPooling1D(_GlobalMaxPooling):
    """Max over steps: (batch, L, C) -> (batch, C)."""

    rank = 1
