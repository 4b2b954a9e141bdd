"""Inverted dropout: zero each unit with probability ``rate`` during training, identity at inference."""

from __future__ import annotations

from typing import Any

import numpy as np

from .. import backend
from .._typing import Array
from ..errors import ConfigError
from .base import Layer


class Dropout(Layer):
    """Inverted dropout: y = x * m / (1 - rate) with m_i ~ Bernoulli(1 - rate) in training; y = x otherwise.

    Scaling the survivors by 1/(1 - rate) keeps E[y] = x, so inference needs no rescaling.
    Backward uses the same mask: dL/dx = dL/dy * m / (1 - rate).

    Args:
        rate: Probability of zeroing a unit, in [0, 1).
        seed: Seed (or ``np.random.Generator``) for the masks; ``None`` draws one from glassnet's
            default generator (``gn.set_seed``). ``fit(seed=...)`` re-seeds through ``reseed``.

    Shapes: x (batch, ...) -> y (batch, ...).
    """

    supports_masking = True  # elementwise: a mask passes through (layers.masking)

    def __init__(
        self,
        rate: float,
        seed: int | np.random.Generator | None = None,
        name: str | None = None,
        trainable: bool = True,
    ) -> None:
        super().__init__(name=name, trainable=trainable)
        try:
            rate = float(rate)
        except (TypeError, ValueError):
            raise ConfigError(f"Dropout: rate must be a number in [0, 1), got {rate!r}") from None
        if not 0.0 <= rate < 1.0:
            raise ConfigError(
                f"Dropout: rate must be in [0, 1), got {rate!r}; hint: rate is the fraction of units "
                "dropped, so 0.2 keeps 80% of them"
            )
        self.rate = rate
        self.seed = seed if isinstance(seed, (int, np.integer)) else None
        self.rng = backend.make_generator(seed)
        self._threshold = np.uint32(min(round(rate * 2.0**32), 2**32 - 1))
        self._keep: Array | None = None  # boolean buffer reused between batches

    def build(self, input_shape: tuple[int, ...]) -> None:
        """No parameters; defined so the base class records the shapes (``summary()`` shows them)."""

    def reseed(self, rng: np.random.Generator) -> None:
        self.rng = rng

    def _mask(self, shape: tuple[int, ...], dtype: np.dtype[Any]) -> Array:
        """m / (1 - rate) as an array of ``dtype``.

        Each unit takes 32 raw random bits b (two per 64-bit draw of the bit generator, the cheapest
        draw NumPy offers) and is dropped when b < t with t = round(rate * 2**32), so P(drop) = t / 2**32
        is within 2**-33 of ``rate``: exact for any practical purpose, not rounded to a grid like 1/256.
        """
        n = int(np.prod(shape))
        if self._keep is None or self._keep.shape != shape:
            self._keep = np.empty(shape, dtype=bool)
        bits = self.rng.bit_generator.random_raw((n + 1) // 2).view(np.uint32)[:n].reshape(shape)
        np.greater_equal(bits, self._threshold, out=self._keep)
        # a fresh array: backward still needs it while the next forward refills the boolean buffer
        return np.multiply(self._keep, dtype.type(1.0 / (1.0 - self.rate)), dtype=dtype)

    def forward(self, x: Array, training: bool = False) -> Array:
        if not training or self.rate == 0.0:
            if training:
                self.cache = {"mask": None}
            return x
        dtype = x.dtype if np.issubdtype(x.dtype, np.floating) else np.dtype(backend.floatx())
        mask = self._mask(x.shape, dtype)
        self.cache = {"mask": mask}
        return np.multiply(x, mask)

    def backward(self, grad_output: Array) -> Array:
        mask = self.read_cache("mask")
        if mask is None:
            return grad_output
        return np.multiply(grad_output, mask)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "rate": self.rate, "seed": self.seed}
