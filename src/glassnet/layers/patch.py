"""PatchEmbedding: images to a sequence of patch tokens (Dosovitskiy et al., 2020, the ViT stem).

An image (H, W, C) is cut into N = (H / p) (W / p) non-overlapping p x p patches, each flattened in
(row, column, channel) order to a vector of p p C values, and projected by one matrix:

    X_p = patches(x)            (B, N, p p C)     a reshape and a transpose, no loop
    y   = X_p K + b             (B, N, D)         K (p, p, C, D) used as (p p C, D): one GEMM

This equals a Conv2D with kernel size and stride p (the kernel has Conv2D's layout (p, p, C, D)).
Backward: dK = X_p^T g,  db = sum g,  dX_p = g K^T, then the inverse transpose and reshape.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .. import initializers
from .._registry import serialize
from .._typing import Array, Shape
from ..errors import ConfigError, ShapeError
from .attention import _mm
from .base import Layer
from .core import _positive_int, _resolve


class PatchEmbedding(Layer):
    """Non-overlapping p x p patches of (B, H, W, C) images, each projected to ``output_dim``.

    Args:
        patch_size: p (an int, or a pair (p_h, p_w)).
        output_dim: Width D of each patch token.
        use_bias, kernel_initializer, bias_initializer: As in ``Dense``.

    Shapes: x (batch, H, W, C) with p_h | H and p_w | W -> y (batch, (H/p_h) (W/p_w), D), patches in
    row-major order; weights ``kernel`` (p_h, p_w, C, D), ``bias`` (D,).
    """

    input_rank = 3  # (height, width, channels) per sample, for the command line's data shapes

    def __init__(self, patch_size: int | tuple[int, int], output_dim: int, use_bias: bool = True,
                 kernel_initializer: Any = "glorot_uniform", bias_initializer: Any = "zeros",
                 name: str | None = None, trainable: bool = True) -> None:
        super().__init__(name=name, trainable=trainable)
        sizes = patch_size if isinstance(patch_size, (list, tuple)) else (patch_size, patch_size)
        if len(sizes) != 2:
            raise ConfigError(f"PatchEmbedding: patch_size must be an int or a pair, got {patch_size!r}")
        self.patch_size = tuple(_positive_int("patch_size", s, "PatchEmbedding") for s in sizes)
        self.output_dim = _positive_int("output_dim", output_dim, "PatchEmbedding")
        self.use_bias = bool(use_bias)
        self.kernel_initializer = _resolve(initializers.get, kernel_initializer, "PatchEmbedding",
                                           "kernel_initializer")
        self.bias_initializer = _resolve(initializers.get, bias_initializer, "PatchEmbedding", "bias_initializer")

    def _grid(self, shape: Shape) -> tuple[int, int, int]:
        if len(shape) != 3:
            raise ShapeError(f"layer {self.name!r} (PatchEmbedding) takes images (batch, H, W, C), got (batch, "
                             f"{', '.join(map(str, shape))}); hint: add a channel axis to grey images")
        (h, w, c), (ph, pw) = shape, self.patch_size
        if h % ph or w % pw:
            raise ShapeError(f"layer {self.name!r} (PatchEmbedding): image size {h}x{w} is not a multiple of the "
                             f"patch size {ph}x{pw}; hint: crop or pad the images, or pick a divisor")
        return h // ph, w // pw, c

    def build(self, input_shape: Shape) -> None:
        _, _, c = self._grid(input_shape)
        ph, pw = self.patch_size
        self.kernel = self.add_parameter("kernel", self.kernel_initializer((ph, pw, c, self.output_dim), self.dtype))
        if self.use_bias:
            self.bias = self.add_parameter("bias", self.bias_initializer((self.output_dim,), self.dtype))

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        gh, gw, _ = self._grid(input_shape)
        return (gh * gw, self.output_dim)

    def patches(self, x: Array) -> Array:
        """(B, H, W, C) -> (B, N, p_h p_w C), patch (i, j) at row i * (W / p_w) + j."""
        b, h, w, c = x.shape
        ph, pw = self.patch_size
        gh, gw = h // ph, w // pw
        return x.reshape(b, gh, ph, gw, pw, c).transpose(0, 1, 3, 2, 4, 5).reshape(b, gh * gw, ph * pw * c)

    def forward(self, x: Array, training: bool = False) -> Array:
        xp = self.patches(x)
        y = _mm(xp, self.kernel.value.reshape(-1, self.output_dim))
        if self.use_bias:
            y += self.bias.value
        if training:
            self.cache = {"xp": xp, "shape": x.shape}
        return y

    def backward(self, grad_output: Array) -> Array | None:
        xp, shape = self.read_cache("xp", "shape")
        d = self.output_dim
        g2 = grad_output.reshape(-1, d)
        np.matmul(xp.reshape(-1, xp.shape[-1]).T, g2, out=self.kernel.grad.reshape(-1, d))
        if self.use_bias:
            np.add.reduce(g2, axis=0, out=self.bias.grad)
        if not self.input_grad_required:
            return None
        grad_p = _mm(grad_output, self.kernel.value.reshape(-1, d).T)
        b, h, w, c = shape
        ph, pw = self.patch_size
        gh, gw = h // ph, w // pw
        return grad_p.reshape(b, gh, gw, ph, pw, c).transpose(0, 1, 3, 2, 4, 5).reshape(shape)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "patch_size": list(self.patch_size), "output_dim": self.output_dim,
                "use_bias": self.use_bias, "kernel_initializer": serialize(self.kernel_initializer),
                "bias_initializer": serialize(self.bias_initializer)}
