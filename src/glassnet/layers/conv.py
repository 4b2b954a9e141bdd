"""Conv1D and Conv2D, channels last, as GEMMs over im2col patch matrices (Keras 3 arguments and layouts).

For input x (N, H, W, C), kernel K (kh, kw, C/G, F), G groups, bias b (F,):

    z[n, i, j, f] = b[f] + sum_{p, q, c} xp[n, i s_h + p d_h, j s_w + q d_w, g(f) C/G + c] K[p, q, c, f]
    y = activation(z)

with xp the zero-padded input and g(f) = f // (F/G) the group of filter f. With X the patch matrix
(``im2col``: (G, N Ho Wo, kh kw C/G)) and W_g the kernel columns of group g, z_g = X_g W_g, and with
G_z = dL/dz (rows (n, i, j), columns f):

    dL/dK_g = X_g^T G_z,g      dL/db = sum over rows of G_z      dL/dX_g = G_z,g W_g^T
    dL/dx = col2im(dL/dX)  (each patch entry's gradient summed back onto the pixel it was read from)
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .. import activations, initializers, regularizers
from .._registry import serialize
from .._typing import Array, Shape
from ..errors import ConfigError, ShapeError
from . import _conv_utils as cu
from .base import Layer
from .core import _positive_int, _resolve
from .workspace import Workspace

_AXES = {1: "(batch, steps, channels)", 2: "(batch, height, width, channels)"}
_PATCH_BUDGET = 1 << 22  # values in one inference block's patch matrix (see _Conv._products_in_chunks)
_FOLD_WIDTH = 64  # patch matrices narrower than this carry the bias as a column of ones (_Conv._folds_bias)


class _Conv(Layer):
    """Shared arguments, checks and GEMMs of Conv1D and Conv2D (a 1-D input is a 2-D one of height 1)."""

    rank = 2
    paddings: tuple[str, ...] = ("valid", "same")

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls.input_rank = cls.rank + 1  # axes per sample, for the command line's data shapes

    def __init__(
        self,
        filters: int,
        kernel_size: int | tuple[int, ...],
        strides: int | tuple[int, ...] = 1,
        padding: str = "valid",
        dilation_rate: int | tuple[int, ...] = 1,
        groups: int = 1,
        activation: Any = None,
        use_bias: bool = True,
        kernel_initializer: Any = "glorot_uniform",
        bias_initializer: Any = "zeros",
        kernel_regularizer: Any = None,
        bias_regularizer: Any = None,
        name: str | None = None,
        trainable: bool = True,
    ) -> None:
        super().__init__(name=name or cu.keras_name(type(self).__name__), trainable=trainable)
        cls = type(self).__name__
        self.filters = _positive_int("filters", filters, cls)
        self.kernel_size = cu.normalize_tuple(kernel_size, self.rank, "kernel_size", cls)
        self.strides = cu.normalize_tuple(strides, self.rank, "strides", cls)
        self.padding = cu.normalize_padding(padding, cls, self.paddings)
        self.dilation_rate = cu.normalize_tuple(dilation_rate, self.rank, "dilation_rate", cls)
        self.groups = _positive_int("groups", groups, cls)
        if max(self.strides) > 1 and max(self.dilation_rate) > 1:
            raise ConfigError(
                f"{cls}: strides > 1 cannot be combined with dilation_rate > 1 (as in Keras), got "
                f"strides={self.strides}, dilation_rate={self.dilation_rate}; hint: use one of the two"
            )
        if self.filters % self.groups:
            raise ConfigError(
                f"{cls}: filters ({self.filters}) must be divisible by groups ({self.groups}); "
                f"hint: each group computes filters / groups output channels"
            )
        where = f"{cls}({filters})"
        self.activation = _resolve(activations.get, activation, where, "activation")
        self.use_bias = bool(use_bias)
        self.kernel_initializer = _resolve(initializers.get, kernel_initializer, where, "kernel_initializer")
        self.bias_initializer = _resolve(initializers.get, bias_initializer, where, "bias_initializer")
        self.kernel_regularizer = _resolve(regularizers.get, kernel_regularizer, where, "kernel_regularizer")
        self.bias_regularizer = _resolve(regularizers.get, bias_regularizer, where, "bias_regularizer")

    @property
    def output_activation(self) -> str:
        return self.activation.name

    # -- geometry: everything as 2-D (height 1 for Conv1D) ----------------------------------------------
    def _as2d(self, values: tuple[int, ...], fill: int = 1) -> tuple[int, int]:
        return (fill, values[0]) if self.rank == 1 else (values[0], values[1])

    def _geometry(self, spatial: Shape) -> tuple[cu.Pads, tuple[int, int]]:
        """(pads, output size) for an input of spatial size ``spatial``; a ShapeError if the kernel does not fit."""
        sizes = self._as2d(tuple(spatial))
        k, s, d = self._as2d(self.kernel_size), self._as2d(self.strides), self._as2d(self.dilation_rate)
        pads = tuple(cu.axis_padding(sizes[a], k[a], s[a], d[a], self.padding) for a in range(2))
        out = tuple(cu.output_length(sizes[a], k[a], s[a], d[a], *pads[a]) for a in range(2))
        if min(out) <= 0:
            k_eff = tuple(cu.effective_kernel(k[a], d[a]) for a in range(2))[2 - self.rank :]
            padded = tuple(sizes[a] + sum(pads[a]) for a in range(2))[2 - self.rank :]
            raise ShapeError(
                f"layer {self.name!r} ({type(self).__name__}): the kernel (dilated size {k_eff}) is larger "
                f"than the padded input {padded} (input {tuple(spatial)}, padding={self.padding!r}); "
                "hint: use padding='same', a smaller kernel_size or dilation_rate, or a larger input"
            )
        return pads, out  # type: ignore[return-value]

    def _check_rank(self, input_shape: Shape) -> None:
        if len(input_shape) != self.rank + 1:
            got = "(batch, " + ", ".join(map(str, input_shape)) + ")"
            hint = "add a channel axis, e.g. x[..., None] or Reshape((28, 28, 1))" if len(input_shape) == self.rank \
                else f"a {type(self).__name__} takes {self.rank + 2}-D input"
            raise ShapeError(
                f"layer {self.name!r} ({type(self).__name__}) expects input of shape {_AXES[self.rank]}, "
                f"got {got}; hint: {hint}"
            )

    def build(self, input_shape: Shape) -> None:
        self._check_rank(input_shape)
        channels = int(input_shape[-1])
        if channels % self.groups:
            raise ShapeError(
                f"layer {self.name!r} ({type(self).__name__}): input channels ({channels}) must be divisible "
                f"by groups ({self.groups}); hint: choose groups that divide {channels}"
            )
        self._pads, self._out = self._geometry(input_shape[:-1])
        shape = self.kernel_size + (channels // self.groups, self.filters)
        kernel = self.kernel_initializer(shape, self.dtype)
        self.kernel = self.add_parameter("kernel", kernel, regularizer=self.kernel_regularizer)
        if self.use_bias:
            bias = self.bias_initializer((self.filters,), self.dtype)
            self.bias = self.add_parameter("bias", bias, regularizer=self.bias_regularizer)

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        _, out = self._geometry(input_shape[:-1])
        return out[2 - self.rank :] + (self.filters,)

    # -- computing ---------------------------------------------------------------------------------------
    def _grouped(self, kernel: Array) -> Array:
        """Kernel (..., C/G, F) as (G, kh kw C/G, F/G), a view."""
        g = self.groups
        return kernel.reshape(-1, g, self.filters // g).transpose(1, 0, 2)

    workspace: Workspace | None = None  # set by a model while it predicts or evaluates (see layers.workspace)
    # Set by a Sequential while it trains when a max pooling follows this ReLU layer: the training forward
    # returns z and the pooling applies the ReLU to its (smaller) output, relu(max z) = max relu(z)
    # exactly; backward is then backward_preactivation (see layers.pooling._MaxPooling.fuses_relu_input).
    relu_deferred = False

    def _buffer(self, name: str, rows: int, width: int, dtype: Any) -> Array | None:
        """A reused (rows, width) buffer inside a model's loop; None (allocate) elsewhere."""
        return None if self.workspace is None else self.workspace.get(name, rows, width, dtype)

    def forward(self, x: Array, training: bool = False) -> Array:
        """z = im2col(pad(x)) @ kernel + bias, a = activation(z). Caches the patch matrix and a."""
        x4 = x[:, None] if self.rank == 1 else x
        k, s, d = self._as2d(self.kernel_size), self._as2d(self.strides), self._as2d(self.dilation_rate)
        rows = x.shape[0] * self._out[0] * self._out[1]
        dtype = np.result_type(x.dtype, self.kernel.dtype)
        xp = cu.pad_spatial(x4, self._pads)
        cols = None
        folded = training and self._folds_bias(xp.shape[-1])
        if self.groups == 1 and not training:
            z = self._products_in_chunks(xp, k, s, d, dtype)
        elif folded:
            cols = cu.im2col(xp, self._out, k, s, d, 1, bias_column=True)
            z = np.matmul(cols[0], self._kernel_and_bias())
        else:
            cols = cu.im2col(xp, self._out, k, s, d, self.groups)
            w = self._grouped(self.kernel.value)
            if self.groups == 1:
                z = np.matmul(cols[0], w[0])
            else:
                z = np.matmul(cols, w).transpose(1, 0, 2).reshape(rows, self.filters)
        if self.use_bias and not folded:
            z += self.bias.value
        if not (training and self.relu_deferred):
            z = self.activation.forward(z, inplace=True)
        a = z.reshape((x.shape[0],) + self.output_shape)  # type: ignore[operator]
        if training:
            self.cache = {"cols": cols, "a": a, "x_shape": x4.shape}
        return a

    def _folds_bias(self, channels: int) -> bool:
        """Whether training adds the bias inside the GEMM: [X 1] [K; b] = X K + b, with a column of ones
        after the patch matrix, so dL/d[K; b] = [X 1]^T G_z gives the bias gradient as its last row.

        Only for a narrow patch matrix (kh kw C < ``_FOLD_WIDTH``, e.g. mnist_convnet's first conv, 9
        columns), whose output is many times wider than its input: there the separate ``z += b`` and the
        column sums of G_z are passes over the largest array of the step (measured on (86528, 32) float32,
        one thread: GEMM, bias and ReLU 1.96 ms folded against 2.69 ms). A wide one (the second conv, 288)
        gains nothing and its kernel-gradient GEMM slows down with the odd width."""
        width = math.prod(self.kernel_size) * channels
        return self.use_bias and self.groups == 1 and width < _FOLD_WIDTH

    def _kernel_and_bias(self) -> Array:
        """[kernel as (kh kw C, F); bias as one more row]: (kh kw C + 1, F), a small copy."""
        kernel = self.kernel.value
        return np.concatenate([kernel.reshape(-1, self.filters), self.bias.value[None]])

    def _products_in_chunks(self, xp: Array, k: tuple[int, int], s: tuple[int, int], d: tuple[int, int],
                            dtype: Any) -> Array:
        """Inference: im2col and GEMM over blocks of images whose patch matrix holds at most
        ``_PATCH_BUDGET`` values (16 MB of float32), so ``predict`` on 1,024 images does not build (and
        page in) a 143 MB patch matrix for mnist_convnet's second layer; the block is reused."""
        n = xp.shape[0]
        per_image = self._out[0] * self._out[1]
        width = k[0] * k[1] * xp.shape[-1]
        block = max(1, min(n, _PATCH_BUDGET // (per_image * width)))
        z = self._buffer("z", n * per_image, self.filters, dtype)
        z = np.empty((n * per_image, self.filters), dtype=dtype) if z is None else z
        flat = self._buffer("cols", 1, block * per_image * width, xp.dtype)
        flat = np.empty(block * per_image * width, dtype=xp.dtype) if flat is None else flat.reshape(-1)
        kernel = self.kernel.value.reshape(width, self.filters)
        for start in range(0, n, block):
            part = xp[start : start + block]
            size = part.shape[0] * per_image
            cols = cu.im2col(part, self._out, k, s, d, 1, out=flat[: size * width])[0]
            np.matmul(cols, kernel, out=z[start * per_image : start * per_image + size])
        return z

    def backward(self, grad_output: Array) -> Array | None:
        a = self.read_cache("a")
        return self.backward_preactivation(self.activation.backward_into(grad_output, a, None))

    def backward_preactivation(self, grad_z: Array) -> Array | None:
        """Backward from dL/dz (before the activation), as used when a loss is fused with it."""
        cols, x_shape = self.read_cache("cols", "x_shape")
        g, rows = self.groups, cols.shape[1]
        gz = grad_z.reshape(rows, self.filters)
        grad_kernel = self._grouped(self.kernel.grad)
        folded = cols.shape[2] != grad_kernel.shape[1]  # a column of ones for the bias (see _folds_bias)
        if folded:
            both = np.empty((cols.shape[2], self.filters), dtype=self.kernel.grad.dtype)
            _kernel_gradient(cols[0], gz, x_shape[0], both)
            grad_kernel[0] = both[:-1]
            self.bias.grad[...] = both[-1]
            gzg = gz[None]
        elif g == 1:
            _kernel_gradient(cols[0], gz, x_shape[0], grad_kernel[0])
            gzg = gz[None]
        else:
            gzg = gz.reshape(rows, g, self.filters // g).transpose(1, 0, 2)
            grad_kernel[...] = np.matmul(cols.transpose(0, 2, 1), gzg)
        if self.use_bias and not folded:
            gemv_column_sums(gz, self.bias.grad)
        if not self.input_grad_required:
            return None
        (top, bottom), (left, right) = self._pads
        padded = (x_shape[0], x_shape[1] + top + bottom, x_shape[2] + left + right, x_shape[3])
        k, s, d = self._as2d(self.kernel_size), self._as2d(self.strides), self._as2d(self.dilation_rate)
        if g == 1:
            kernel = self.kernel.value.reshape(k + (x_shape[3], self.filters))
            per_offset = np.ascontiguousarray(kernel.transpose(0, 1, 3, 2))  # (kh, kw, F, C)
            grad_xp = cu.scatter_products(gz, per_offset, padded, self._out, s, d)
        else:
            w = self._grouped(self.kernel.value)
            grad_cols = np.matmul(gzg, w.transpose(0, 2, 1))
            grad_xp = cu.col2im(grad_cols, padded, self._out, k, s, d, g)
        grad_x = cu.crop_spatial(grad_xp, self._pads, x_shape[1:3])
        return grad_x[:, 0] if self.rank == 1 else grad_x

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "filters": self.filters,
            "kernel_size": list(self.kernel_size),
            "strides": list(self.strides),
            "padding": self.padding,
            "dilation_rate": list(self.dilation_rate),
            "groups": self.groups,
            "activation": serialize(self.activation),
            "use_bias": self.use_bias,
            "kernel_initializer": serialize(self.kernel_initializer),
            "bias_initializer": serialize(self.bias_initializer),
            "kernel_regularizer": serialize(self.kernel_regularizer),
            "bias_regularizer": serialize(self.bias_regularizer),
        }


def gemv_column_sums(rows: Array, out: Array) -> None:
    """out = sum of the rows of ``rows`` (M, F), as ones(M) @ rows: a BLAS product, measured 0.2 ms against
    1.5 ms for ``np.add.reduce(axis=0)`` on (86528, 32) float32 (the first conv layer's bias gradient)."""
    np.matmul(np.ones(rows.shape[0], dtype=rows.dtype), rows, out=out)


def _kernel_gradient(cols: Array, grad_z: Array, batch: int, out: Array) -> None:
    """out = cols^T grad_z, (K, M) x (M, F) with M = batch Ho Wo rows.

    A small kernel (K F entries) with many rows is a poor shape for BLAS (measured 11 ms for mnist_convnet's
    first layer, 9 x 86528 x 32, against 0.7 ms for the same sum as one product per image, summed): such
    layers get a batched product over the images instead.
    """
    k, f = out.shape
    if k * f > 2048 or batch == 1:
        np.matmul(cols.T, grad_z, out=out)
        return
    per_image = np.matmul(cols.reshape(batch, -1, k).transpose(0, 2, 1), grad_z.reshape(batch, -1, f))
    np.add.reduce(per_image, axis=0, out=out)


class Conv2D(_Conv):
    """2-D convolution (cross-correlation, as in every framework), channels last.

    Args:
        filters: Output channels F.
        kernel_size, strides, dilation_rate: An int or a tuple (h, w).
        padding: "valid" (none) or "same" (TF/Keras rule, output ceil(n / s); see ``_conv_utils``).
        groups: G; input channels and filters are split into G independent convolutions.
        activation, use_bias, *_initializer, *_regularizer: As in ``Dense``.

    Shapes: x (batch, H, W, C) -> y (batch, Ho, Wo, F); kernel (kh, kw, C / G, F), bias (F,).

    Memory: the forward pass copies x into the patch matrix, N Ho Wo kh kw C values (kh kw times the
    input for stride 1), and keeps it for backward, which allocates one more of the same size for dL/dX.
    """

    rank = 2


class Conv1D(_Conv):
    """1-D convolution over (batch, steps, channels); the arguments of Conv2D, each an int or a 1-tuple,
    and padding "valid", "same" or "causal" (k_eff - 1 zeros before the sequence, none after).

    Shapes: x (batch, L, C) -> y (batch, Lo, F); kernel (k, C / G, F), bias (F,).

    Memory: the patch matrix holds N Lo k C values.
    """

    rank = 1
    paddings = ("valid", "same", "causal")
