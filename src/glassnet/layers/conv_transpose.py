"""Conv2DTranspose: the adjoint of a strided convolution, channels last (Keras 3 layout and sizes).

Take the Conv2D that maps an image of the *output* size (Ho, Wo, F) to the *input* size (H, W, C) with
the same kernel_size, strides, dilation and padding. Its kernel has shape (kh, kw, F, C), which is this
layer's kernel, and this layer computes that convolution's input gradient applied to x:

    z = crop(col2im(x @ K^T)) + b,  y = activation(z)     (K as (kh kw F, C), x as (N H W, C))

so each input pixel adds a kh x kw x F stamp, weighted by its channels, at stride s into the output.
Backward, with G_z = dL/dz: dL/dx = im2col(pad(G_z)) K, dL/dK = im2col(pad(G_z))^T x, dL/db = sum G_z.

Output size along an axis (Keras, output_padding=None): "valid" n s + max(k_eff - s, 0), "same" n s.
"same" removes max(k_eff - s, 0) border rows, the smaller half before (the TF rule for a forward
convolution whose input has the output size).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .._typing import Array, Shape
from ..errors import ConfigError
from . import _conv_utils as cu
from .conv import _Conv, gemv_column_sums


class Conv2DTranspose(_Conv):
    """Transposed 2-D convolution ("deconvolution"), channels last; the arguments of Conv2D but no groups.

    Shapes: x (batch, H, W, C) -> y (batch, Ho, Wo, F); kernel (kh, kw, F, C), bias (F,).

    Memory: the forward pass adds one (N H W, F) stamp block per kernel offset into the output; the
    backward pass builds the patch matrix of the padded output gradient, N H W kh kw F values.
    """

    rank = 2

    def __init__(self, filters: int, kernel_size: int | tuple[int, int], strides: int | tuple[int, int] = 1,
                 padding: str = "valid", dilation_rate: int | tuple[int, int] = 1, **kwargs: Any) -> None:
        if kwargs.get("groups", 1) != 1:
            raise ConfigError(f"Conv2DTranspose: groups is not supported (as in Keras), got {kwargs['groups']!r}")
        kwargs.pop("groups", None)
        super().__init__(filters, kernel_size, strides, padding, dilation_rate, **kwargs)

    def _transposed_geometry(self, spatial: Shape) -> tuple[cu.Pads, tuple[int, int], tuple[int, int]]:
        """(pads, output size, padded output size) for an input of size ``spatial``."""
        pads, out, full = [], [], []
        for n, k, s, d in zip(spatial, self.kernel_size, self.strides, self.dilation_rate):
            k_eff = cu.effective_kernel(k, d)
            extra = max(k_eff - s, 0)
            size = n * s + (extra if self.padding == "valid" else 0)
            before = 0 if self.padding == "valid" else extra // 2
            pads.append((before, n * s + extra - size - before))
            out.append(size)
            full.append(n * s + extra)
        return tuple(pads), tuple(out), tuple(full)  # type: ignore[return-value]

    def build(self, input_shape: Shape) -> None:
        self._check_rank(input_shape)
        channels = int(input_shape[-1])
        self._pads, self._out, self._full = self._transposed_geometry(input_shape[:-1])
        shape = self.kernel_size + (self.filters, channels)
        self.kernel = self.add_parameter("kernel", self.kernel_initializer(shape, self.dtype),
                                         regularizer=self.kernel_regularizer)
        if self.use_bias:
            bias = self.bias_initializer((self.filters,), self.dtype)
            self.bias = self.add_parameter("bias", bias, regularizer=self.bias_regularizer)

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        return self._transposed_geometry(input_shape[:-1])[1] + (self.filters,)

    def forward(self, x: Array, training: bool = False) -> Array:
        n, h, w, c = x.shape
        per_offset = np.ascontiguousarray(self.kernel.value.transpose(0, 1, 3, 2))  # (kh, kw, C, F)
        padded = (n, self._full[0], self._full[1], self.filters)
        zp = cu.scatter_products(x.reshape(n * h * w, c), per_offset, padded, (h, w), self.strides,
                                 self.dilation_rate)
        z = cu.crop_spatial(zp, self._pads, self._out)
        z = np.ascontiguousarray(z) if z is not zp else z
        if self.use_bias:
            z += self.bias.value
        a = z if training and self.relu_deferred else self.activation.forward(z, inplace=True)  # see _Conv
        if training:
            self.cache = {"x": x, "a": a}
        return a

    def backward_preactivation(self, grad_z: Array) -> Array | None:
        x = self.read_cache("x")
        n, h, w, c = x.shape
        gp = cu.pad_spatial(grad_z, self._pads)  # back to the padded output (N, full_h, full_w, F)
        cols = cu.im2col(gp, (h, w), self.kernel_size, self.strides, self.dilation_rate)[0]  # (N H W, kh kw F)
        x2 = x.reshape(n * h * w, c)
        np.matmul(cols.T, x2, out=self.kernel.grad.reshape(-1, c))
        if self.use_bias:
            gemv_column_sums(grad_z.reshape(-1, self.filters), self.bias.grad)
        if not self.input_grad_required:
            return None
        return np.matmul(cols, self.kernel.value.reshape(-1, c)).reshape(n, h, w, c)

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        del config["groups"]
        return config
