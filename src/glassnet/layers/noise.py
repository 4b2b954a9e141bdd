"""``GaussianNoise``: additive zero-mean Gaussian noise in training (a regularizer; denoising inputs)."""

from __future__ import annotations

from typing import Any

import numpy as np

from .. import backend
from .._typing import Array
from ..errors import ConfigError
from .base import Layer


class GaussianNoise(Layer):
    """y = x + stddev * eps, eps ~ N(0, 1) per entry, in training; y = x in inference (Keras' GaussianNoise).

    Backward: dL/dx = dL/dy (the noise does not depend on x).

    Args:
        stddev: Standard deviation of the noise, >= 0.
        seed: Seed (or generator) of the noise; ``fit(seed=...)`` re-seeds it through ``reseed``.

    Shapes: x (batch, ...) -> y (batch, ...).
    """

    def __init__(self, stddev: float, seed: int | np.random.Generator | None = None, name: str | None = None,
                 trainable: bool = True) -> None:
        super().__init__(name=name, trainable=trainable)
        value = float(stddev)
        if not (np.isfinite(value) and value >= 0):
            raise ConfigError(f"GaussianNoise: stddev must be a finite number >= 0, got {stddev!r}")
        self.stddev = value
        self.seed = seed if isinstance(seed, (int, np.integer)) else None
        self.rng = backend.make_generator(seed)

    def build(self, input_shape: tuple[int, ...]) -> None:
        """No parameters; defined so the base class records the shapes."""

    def reseed(self, rng: np.random.Generator) -> None:
        self.rng = rng

    def forward(self, x: Array, training: bool = False) -> Array:
        if not training or self.stddev == 0.0:
            return x
        dtype = x.dtype if np.issubdtype(x.dtype, np.floating) else np.dtype(backend.floatx())
        noise = self.rng.standard_normal(x.shape, dtype=dtype.type)
        noise *= dtype.type(self.stddev)
        noise += x
        return noise

    def backward(self, grad_output: Array) -> Array:
        return grad_output

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "stddev": self.stddev, "seed": self.seed}
