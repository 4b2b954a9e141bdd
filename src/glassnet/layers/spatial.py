"""Image-shaped helpers, channels last: UpSampling2D (nearest), ZeroPadding2D, SpatialDropout2D."""

from __future__ import annotations

from typing import Any

import numpy as np

from .. import backend
from .._typing import Array, Shape
from ..errors import ConfigError
from . import _conv_utils as cu
from .base import Layer
from .dropout import Dropout
from .pooling import _check_rank


class UpSampling2D(Layer):
    """Nearest-neighbour upsampling: y[n, i, j, c] = x[n, i // sh, j // sw, c].

    Backward sums each (sh, sw) block of dL/dy: dL/dx[n, i, j, c] = sum_{p, q} dL/dy[n, i sh + p, j sw + q, c].

    Shapes: (batch, H, W, C) -> (batch, H sh, W sw, C).
    """

    input_rank = 3  # (height, width, channels) per sample

    def __init__(self, size: int | tuple[int, int] = 2, interpolation: str = "nearest", name: str | None = None,
                 trainable: bool = True) -> None:
        super().__init__(name=name or cu.keras_name(type(self).__name__), trainable=trainable)
        self.size = cu.normalize_tuple(size, 2, "size", "UpSampling2D")
        if interpolation != "nearest":
            raise ConfigError(f"UpSampling2D: only interpolation='nearest' is implemented, got {interpolation!r}")
        self.interpolation = interpolation

    def build(self, input_shape: Shape) -> None:
        _check_rank(self, input_shape, 2)

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        h, w, c = input_shape
        return (h * self.size[0], w * self.size[1], c)

    def forward(self, x: Array, training: bool = False) -> Array:
        n, h, w, c = x.shape
        sh, sw = self.size
        y = np.broadcast_to(x[:, :, None, :, None, :], (n, h, sh, w, sw, c)).reshape(n, h * sh, w * sw, c)
        if training:
            self.cache = {"x_shape": x.shape}
        return y

    def backward(self, grad_output: Array) -> Array:
        n, h, w, c = self.read_cache("x_shape")
        sh, sw = self.size
        return grad_output.reshape(n, h, sh, w, sw, c).sum(axis=(2, 4))

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "size": list(self.size), "interpolation": self.interpolation}


def _zero_padding(padding: Any) -> cu.Pads:
    """1 | (a, b) | ((top, bottom), (left, right)) -> ((top, bottom), (left, right))."""
    if isinstance(padding, (int, np.integer)) and not isinstance(padding, bool):
        (a,) = cu.normalize_tuple(padding, 1, "padding", "ZeroPadding2D", allow_zero=True)
        return (a, a), (a, a)
    try:
        first, second = padding
    except (TypeError, ValueError):
        first = second = None
    if all(isinstance(v, (int, np.integer)) for v in (first, second)):
        a, b = cu.normalize_tuple(padding, 2, "padding", "ZeroPadding2D", allow_zero=True)
        return (a, a), (b, b)
    try:
        top, bottom = cu.normalize_tuple(first, 2, "padding", "ZeroPadding2D", allow_zero=True)
        left, right = cu.normalize_tuple(second, 2, "padding", "ZeroPadding2D", allow_zero=True)
    except ConfigError:
        raise ConfigError(
            f"ZeroPadding2D: padding must be an int, a pair (rows, columns) or ((top, bottom), (left, right)) "
            f"of non-negative ints, got {padding!r}"
        ) from None
    return (top, bottom), (left, right)


class ZeroPadding2D(Layer):
    """Zeros around the image: y = x placed at rows [top, top + H) and columns [left, left + W).

    Backward crops dL/dy to that window. Shapes: (batch, H, W, C) -> (batch, H + top + bottom, W + left + right, C).
    """

    input_rank = 3  # (height, width, channels) per sample

    def __init__(self, padding: Any = 1, name: str | None = None, trainable: bool = True) -> None:
        super().__init__(name=name or cu.keras_name(type(self).__name__), trainable=trainable)
        self.padding = _zero_padding(padding)

    def build(self, input_shape: Shape) -> None:
        _check_rank(self, input_shape, 2)

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        (top, bottom), (left, right) = self.padding
        h, w, c = input_shape
        return (h + top + bottom, w + left + right, c)

    def forward(self, x: Array, training: bool = False) -> Array:
        y = cu.pad_spatial(x, self.padding)
        return y.copy() if y is x else y  # a new array either way, like every other layer

    def backward(self, grad_output: Array) -> Array:
        assert self.input_shape is not None
        return cu.crop_spatial(grad_output, self.padding, self.input_shape[:2])

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "padding": [list(p) for p in self.padding]}


class SpatialDropout2D(Dropout):
    """Dropout of whole feature maps: y[n, :, :, c] = x[n, :, :, c] m[n, c] / (1 - rate), m ~ Bernoulli(1 - rate).

    Neighbouring pixels of a feature map are strongly correlated, so dropping single pixels barely
    regularizes a conv net (Tompson et al., 2015); this drops channels. Identity at inference; backward
    multiplies by the same mask. Seeded and re-seeded exactly like ``Dropout``.

    Shapes: (batch, H, W, C) -> (batch, H, W, C); the mask is (batch, 1, 1, C).
    """

    input_rank = 3  # (height, width, channels) per sample

    def __init__(self, rate: float, seed: int | np.random.Generator | None = None, name: str | None = None,
                 trainable: bool = True) -> None:
        super().__init__(rate, seed, name=name or cu.keras_name(type(self).__name__), trainable=trainable)

    def build(self, input_shape: tuple[int, ...]) -> None:
        _check_rank(self, input_shape, 2)

    def forward(self, x: Array, training: bool = False) -> Array:
        if not training or self.rate == 0.0:
            if training:
                self.cache = {"mask": None}
            return x
        dtype = x.dtype if np.issubdtype(x.dtype, np.floating) else np.dtype(backend.floatx())
        mask = self._mask((x.shape[0], 1, 1, x.shape[3]), dtype)
        self.cache = {"mask": mask}
        return np.multiply(x, mask)
