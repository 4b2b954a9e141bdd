"""Layers that only move values: Flatten, Reshape, Permute, RepeatVector (Keras 3 arguments).

Each backward applies the inverse move to dL/dy (RepeatVector, which copies, sums the copies).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .._typing import Array, Shape
from ..errors import ConfigError, ShapeError
from .base import Layer


class Flatten(Layer):
    """y = x.reshape(batch, -1): (batch, d1, ..., dk) -> (batch, d1 ... dk); backward reshapes back."""

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        return (math.prod(input_shape),)

    def forward(self, x: Array, training: bool = False) -> Array:
        if training:
            self.cache = {"x_shape": x.shape}
        return x.reshape(x.shape[0], -1)

    def backward(self, grad_output: Array) -> Array:
        return grad_output.reshape(self.read_cache("x_shape"))


class Reshape(Layer):
    """y = x.reshape((batch,) + target_shape); one entry of target_shape may be -1 (inferred)."""

    def __init__(self, target_shape: tuple[int, ...], name: str | None = None, trainable: bool = True) -> None:
        super().__init__(name=name, trainable=trainable)
        try:
            self.target_shape = tuple(int(s) for s in target_shape)
        except (TypeError, ValueError):
            raise ConfigError(f"Reshape: target_shape must be a tuple of ints, got {target_shape!r}") from None
        if sum(s == -1 for s in self.target_shape) > 1 or any(s == 0 or s < -1 for s in self.target_shape):
            raise ConfigError(
                f"Reshape: target_shape must hold positive ints and at most one -1, got {target_shape!r}"
            )

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        size = math.prod(input_shape)
        known = math.prod(s for s in self.target_shape if s != -1)
        if (-1 in self.target_shape and size % known) or (-1 not in self.target_shape and size != known):
            raise ShapeError(
                f"layer {self.name!r} (Reshape) cannot reshape input (batch, {', '.join(map(str, input_shape))}) "
                f"({size} values per sample) to target_shape {self.target_shape}; hint: the product of "
                "target_shape must equal the number of values per sample"
            )
        return tuple(size // known if s == -1 else s for s in self.target_shape)

    def forward(self, x: Array, training: bool = False) -> Array:
        assert self.output_shape is not None
        if training:
            self.cache = {"x_shape": x.shape}
        return x.reshape((x.shape[0],) + self.output_shape)

    def backward(self, grad_output: Array) -> Array:
        return grad_output.reshape(self.read_cache("x_shape"))

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "target_shape": list(self.target_shape)}


class Permute(Layer):
    """y = x.transpose((0,) + dims), dims a permutation of 1..k (1-based as in Keras; the batch stays first).

    Backward applies the inverse permutation. Returns a view; ``Permute((2, 1))`` turns (batch, a, b) into
    (batch, b, a).
    """

    def __init__(self, dims: tuple[int, ...], name: str | None = None, trainable: bool = True) -> None:
        super().__init__(name=name, trainable=trainable)
        try:
            self.dims = tuple(int(d) for d in dims)
        except (TypeError, ValueError):
            raise ConfigError(f"Permute: dims must be a tuple of ints, got {dims!r}") from None
        if sorted(self.dims) != list(range(1, len(self.dims) + 1)):
            raise ConfigError(
                f"Permute: dims must be a permutation of 1..{len(self.dims)}, got {dims!r}; "
                "hint: axes are 1-based, the batch axis 0 is never permuted"
            )

    def build(self, input_shape: Shape) -> None:
        if len(input_shape) != len(self.dims):
            raise ShapeError(
                f"layer {self.name!r} (Permute) with dims {self.dims} expects {len(self.dims)} axes besides "
                f"the batch, got input (batch, {', '.join(map(str, input_shape))})"
            )

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        return tuple(input_shape[d - 1] for d in self.dims)

    def forward(self, x: Array, training: bool = False) -> Array:
        return x.transpose((0,) + self.dims)

    def backward(self, grad_output: Array) -> Array:
        inverse = np.argsort((0,) + self.dims)
        return grad_output.transpose(tuple(int(a) for a in inverse))

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "dims": list(self.dims)}


class RepeatVector(Layer):
    """y[:, t, :] = x for t < n: (batch, features) -> (batch, n, features); dL/dx = sum_t dL/dy[:, t, :]."""

    def __init__(self, n: int, name: str | None = None, trainable: bool = True) -> None:
        super().__init__(name=name, trainable=trainable)
        if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n <= 0:
            raise ConfigError(f"RepeatVector: n must be a positive integer, got {n!r}")
        self.n = int(n)

    def build(self, input_shape: Shape) -> None:
        if len(input_shape) != 1:
            raise ShapeError(
                f"layer {self.name!r} (RepeatVector) expects input of shape (batch, features), got "
                f"(batch, {', '.join(map(str, input_shape))}); hint: Flatten first"
            )

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        return (self.n, input_shape[0])

    def forward(self, x: Array, training: bool = False) -> Array:
        return np.repeat(x[:, None, :], self.n, axis=1)

    def backward(self, grad_output: Array) -> Array:
        return grad_output.sum(axis=1)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "n": self.n}
