"""Inverted dropout: zero each unit with probability ``rate`` during training, identity at inference."""

from __future__ import annotations

from typing import Any

import numpy as np

from .. import backend
from .._typing import Array
from ..errors import ConfigError, ShapeError
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
        # Set by glassnet.distributed around each step: (lo, hi, n) says this process holds rows lo:hi of
        # a global batch of n rows; the mask is then exactly those rows of the one-process mask.
        self.shard: tuple[int, int, int] | None = None

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
        if self.shard is None:
            bits = self.rng.bit_generator.random_raw((n + 1) // 2).view(np.uint32)[:n].reshape(shape)
        else:
            bits = self._shard_bits(shape).reshape(shape)
        np.greater_equal(bits, self._threshold, out=self._keep)
        # a fresh array: backward still needs it while the next forward refills the boolean buffer
        return np.multiply(self._keep, dtype.type(1.0 / (1.0 - self.rate)), dtype=dtype)

    def _shard_bits(self, shape: tuple[int, ...]) -> Array:
        """The 32-bit draws of rows lo:hi of the mask one process would draw for all ``shard[2]`` rows.

        With u units per row (the product of ``shape[1:]``), they are draws lo*u .. hi*u - 1 of the
        global N = shard[2] * u; the generator skips the 64-bit words before and after them (``advance``;
        bit generators without it draw the whole global mask), so it ends where the one-process one ends.
        """
        assert self.shard is not None
        lo, hi, total_rows = self.shard
        rows, units = shape[0], int(np.prod(shape[1:]))
        n = rows * units
        if hi - lo != rows:
            raise ShapeError(f"layer {self.name!r} (Dropout): shard {self.shard} has {hi - lo} rows but the "
                             f"batch has {rows}; hint: set Dropout.shard only around a step on that shard")
        start, total = lo * units, (total_rows * units + 1) // 2  # first uint32, 64-bit words drawn in all
        bg = self.rng.bit_generator
        if not hasattr(bg, "advance"):
            return bg.random_raw(total).view(np.uint32)[start : start + n]
        first, last = start // 2, (start + n + 1) // 2
        bg.advance(first)
        bits = bg.random_raw(last - first).view(np.uint32)[start - 2 * first : start - 2 * first + n]
        bg.advance(total - last)
        return bits

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
