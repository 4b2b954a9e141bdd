"""Position information for token sequences (B, T, E): a learned table or the fixed sinusoids.

Both add to their input, so ``PositionalEmbedding(T, E)(token_embeddings)`` is the input of a Transformer:

    PositionalEmbedding            y[b, t] = x[b, t] + P[t]      P (sequence_length, E) learned
        backward: dL/dx = g,  dL/dP[t] = sum_b g[b, t] (rows t >= T get 0)
    SinusoidalPositionalEncoding   y[b, t] = x[b, t] + PE[t]     (Vaswani et al., 2017, section 3.5)
        PE[t, 2i] = sin(t / 10000^(2i/E)),  PE[t, 2i+1] = cos(t / 10000^(2i/E));  dL/dx = g

A sequence may be shorter than the table (T <= sequence_length), as in generation one token at a time.
(Keras-hub's ``PositionEmbedding`` returns P[:T] alone and the model adds it; here the layer adds it,
the form of Keras' ``TokenAndPositionEmbedding`` example, so a graph needs no extra ``Add``.)
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .. import initializers
from .._registry import serialize
from .._typing import Array, Shape
from ..errors import ShapeError
from .base import Layer
from .core import _positive_int, _resolve


def _sequence_shape(layer: Layer, shape: Shape) -> tuple[int, int]:
    if len(shape) != 2:
        raise ShapeError(f"layer {layer.name!r} ({type(layer).__name__}) takes sequences (batch, T, features), got "
                         f"(batch, {', '.join(map(str, shape))}); hint: embed tokens first (a one-hot input into a "
                         "bias-free Dense, or Embedding)")
    return int(shape[0]), int(shape[1])


class PositionalEmbedding(Layer):
    """Learned absolute positions: y[b, t] = x[b, t] + embeddings[t].

    Args:
        sequence_length: Longest sequence T_max (rows of the table).
        output_dim: Width E of the embeddings (must equal the input's feature width).
        initializer: Initializer of the (T_max, E) table (Keras-hub's default, "glorot_uniform").

    Shapes: x (batch, T, E) with T <= sequence_length -> y (batch, T, E); weight ``embeddings`` (T_max, E).
    """

    supports_masking = True  # acts on each position alone: a padding mask passes through (layers.masking)

    def __init__(self, sequence_length: int, output_dim: int, initializer: Any = "glorot_uniform",
                 name: str | None = None, trainable: bool = True) -> None:
        super().__init__(name=name, trainable=trainable)
        self.sequence_length = _positive_int("sequence_length", sequence_length, "PositionalEmbedding")
        self.output_dim = _positive_int("output_dim", output_dim, "PositionalEmbedding")
        self.initializer = _resolve(initializers.get, initializer, "PositionalEmbedding", "initializer")

    def build(self, input_shape: Shape) -> None:
        _, width = _sequence_shape(self, input_shape)
        if width != self.output_dim:
            raise ShapeError(f"layer {self.name!r} (PositionalEmbedding) has output_dim={self.output_dim} but its "
                             f"input has width {width}; hint: they are added, so they must be equal")
        self.check_input_length(input_shape[0])
        table = self.initializer((self.sequence_length, self.output_dim), self.dtype)
        self.embeddings = self.add_parameter("embeddings", table)

    def check_input_length(self, t: int) -> None:
        if t > self.sequence_length:
            raise ShapeError(f"layer {self.name!r} ({type(self).__name__}) holds {self.sequence_length} positions, "
                             f"got a sequence of length {t}; hint: raise sequence_length")

    def check_input(self, x: Array) -> None:
        if x.ndim != 3 or x.shape[-1] != self.output_dim:
            raise ShapeError(f"layer {self.name!r} (PositionalEmbedding) expected input of shape (batch, T, "
                             f"{self.output_dim}), got {x.shape}")
        self.check_input_length(x.shape[1])

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        return tuple(input_shape)

    def forward(self, x: Array, training: bool = False) -> Array:
        t = x.shape[1]
        if training:
            self.cache = {"t": t}
        return x + self.embeddings.value[:t]

    def backward(self, grad_output: Array) -> Array:
        t = self.read_cache("t")
        grad = self.embeddings.grad
        grad[t:] = 0.0
        np.add.reduce(grad_output, axis=0, out=grad[:t])
        return grad_output

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "sequence_length": self.sequence_length, "output_dim": self.output_dim,
                "initializer": serialize(self.initializer)}


def sinusoidal_table(length: int, width: int, max_wavelength: float = 10000.0, dtype: Any = np.float64) -> Array:
    """PE (length, width): PE[t, 2i] = sin(t / w^(2i/E)), PE[t, 2i+1] = cos(t / w^(2i/E)), w = max_wavelength."""
    positions = np.arange(length, dtype=np.float64)[:, None]
    pair = (np.arange(width) // 2) * 2  # 2i for both columns of a pair
    angles = positions / np.power(max_wavelength, pair / width)
    table = np.where(np.arange(width) % 2 == 0, np.sin(angles), np.cos(angles))
    return table.astype(dtype, copy=False)


class SinusoidalPositionalEncoding(Layer):
    """Fixed positions (Vaswani et al., 2017): y[b, t] = x[b, t] + PE[t]; no weights; dL/dx = dL/dy.

    Args:
        max_length: Longest sequence accepted (None: any length; the table is made for the length seen).
        max_wavelength: The 10000 of the formula.

    Shapes: x (batch, T, E) -> y (batch, T, E).
    """

    supports_masking = True  # acts on each position alone: a padding mask passes through (layers.masking)

    def __init__(self, max_length: int | None = None, max_wavelength: float = 10000.0, name: str | None = None,
                 trainable: bool = True) -> None:
        super().__init__(name=name, trainable=trainable)
        self.max_length = None if max_length is None else _positive_int(
            "max_length", max_length, "SinusoidalPositionalEncoding")
        self.max_wavelength = float(max_wavelength)
        if not (self.max_wavelength > 1.0 and math.isfinite(self.max_wavelength)):
            raise ShapeError(f"SinusoidalPositionalEncoding: max_wavelength must be a finite number > 1, got "
                             f"{max_wavelength!r}")
        self._table: Array | None = None

    def build(self, input_shape: Shape) -> None:
        t, _ = _sequence_shape(self, input_shape)
        self._check_length(t)

    def _check_length(self, t: int) -> None:
        if self.max_length is not None and t > self.max_length:
            raise ShapeError(f"layer {self.name!r} (SinusoidalPositionalEncoding) accepts sequences up to "
                             f"max_length={self.max_length}, got length {t}; hint: raise max_length")

    def check_input(self, x: Array) -> None:
        assert self.input_shape is not None
        if x.ndim != 3 or x.shape[-1] != self.input_shape[-1]:
            raise ShapeError(f"layer {self.name!r} (SinusoidalPositionalEncoding) expected input of shape (batch, T, "
                             f"{self.input_shape[-1]}), got {x.shape}")
        self._check_length(x.shape[1])

    def encoding(self, t: int, width: int, dtype: Any) -> Array:
        """PE[:t] (kept and grown as needed)."""
        table = self._table
        if table is None or table.shape[0] < t or table.shape[1] != width or table.dtype != dtype:
            table = self._table = sinusoidal_table(max(t, self.max_length or 0), width, self.max_wavelength, dtype)
        return table[:t]

    def forward(self, x: Array, training: bool = False) -> Array:
        if training:
            self.cache = {"done": True}
        dtype = x.dtype if x.dtype.kind == "f" else np.dtype(self.dtype)
        return x + self.encoding(x.shape[1], x.shape[2], dtype)

    def backward(self, grad_output: Array) -> Array:
        self.read_cache("done")
        return grad_output

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "max_length": self.max_length, "max_wavelength": self.max_wavelength}
