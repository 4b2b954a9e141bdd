"""Embedding: integer token ids -> learned vectors, y[..., :] = embeddings[x[...]]."""

from __future__ import annotations

from typing import Any

import numpy as np

from .. import initializers, regularizers
from .._registry import serialize
from .._typing import Array, Shape
from ..errors import ShapeError
from .base import Layer
from .core import _positive_int, _resolve


class Embedding(Layer):
    """Lookup table: y = embeddings[x], x integer ids in [0, input_dim).

    A lookup is a product with a one-hot matrix, y = onehot(x) @ embeddings, so the backward is the
    transposed product, a scatter-add: embeddings.grad[k] = sum of dL/dy over the positions where
    x == k. Ids carry no gradient, so backward returns None.

    Args:
        input_dim: Vocabulary size (ids 0 .. input_dim - 1).
        output_dim: Width of each vector.
        embeddings_initializer: Default "uniform", Keras's RandomUniform(-0.05, 0.05).
        mask_zero: Treat id 0 as padding: the layer then emits the mask x != 0, which following
            recurrent layers use to skip padded steps (see ``layers.masking``). Id 0 then must not be a
            real token, so the vocabulary needs input_dim = real tokens + 1.

    Shapes: x (batch, ...) integers -> y (batch, ..., output_dim); embeddings (input_dim, output_dim).
    Integer inputs reach the layer uncast: a model whose first layer has ``input_dtype = "int"`` keeps
    integer arrays (``models.training``).
    """

    input_dtype = "int"

    def __init__(self, input_dim: int, output_dim: int, embeddings_initializer: Any = "uniform",
                 embeddings_regularizer: Any = None, mask_zero: bool = False, name: str | None = None,
                 trainable: bool = True) -> None:
        super().__init__(name=name, trainable=trainable)
        self.input_dim = _positive_int("input_dim", input_dim, "Embedding")
        self.output_dim = _positive_int("output_dim", output_dim, "Embedding")
        where = f"Embedding({input_dim}, {output_dim})"
        self.embeddings_initializer = _resolve(initializers.get, embeddings_initializer, where,
                                               "embeddings_initializer")
        self.embeddings_regularizer = _resolve(regularizers.get, embeddings_regularizer, where,
                                               "embeddings_regularizer")
        self.mask_zero = bool(mask_zero)

    def build(self, input_shape: Shape) -> None:
        table = self.embeddings_initializer((self.input_dim, self.output_dim), self.dtype)
        self.embeddings = self.add_parameter("embeddings", table, regularizer=self.embeddings_regularizer)

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        return tuple(input_shape) + (self.output_dim,)

    def check_input(self, x: Array) -> None:
        """Any shape of ids works (sequences may change length between calls)."""

    def compute_mask(self, x: Any, mask: Array | None) -> Array | None:
        return np.not_equal(x, 0) if self.mask_zero else None

    def _ids(self, x: Array) -> Array:
        if not np.issubdtype(x.dtype, np.integer):
            if not np.issubdtype(x.dtype, np.floating) or not np.all(np.equal(np.mod(x, 1), 0)):
                raise ShapeError(f"layer {self.name!r} (Embedding) takes integer token ids, got {x.dtype} values; "
                                 "hint: map tokens to ids 0..input_dim-1 first (glassnet.text.CharVocabulary)")
            x = x.astype(np.intp)
        if x.size:
            low, high = int(x.min()), int(x.max())
            if low < 0 or high >= self.input_dim:
                bad = low if low < 0 else high
                raise ShapeError(f"layer {self.name!r} (Embedding) got token id {bad}, outside [0, input_dim) with "
                                 f"input_dim={self.input_dim}; hint: input_dim must be the vocabulary size "
                                 "(largest id + 1)")
        return x

    def forward(self, x: Array, training: bool = False) -> Array:
        ids = self._ids(x)
        y = np.take(self.embeddings.value, ids, axis=0)
        if training:
            self.cache = {"ids": ids}
        return y

    def backward(self, grad_output: Array) -> None:  # type: ignore[override]
        ids = self.read_cache("ids")
        grad = self.embeddings.grad
        grad.fill(0)
        np.add.at(grad, ids.reshape(-1), np.reshape(grad_output, (-1, self.output_dim)))
        return None

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "input_dim": self.input_dim, "output_dim": self.output_dim,
                "embeddings_initializer": serialize(self.embeddings_initializer),
                "embeddings_regularizer": serialize(self.embeddings_regularizer), "mask_zero": self.mask_zero}
