"""Inverted dropout: zero each unit with probability ``rate`` during training, identity at inference."""

from __future__ import annotations

from typing import Any

import numpy as np

from .. import backend
from .._typing import Array
from ..errors import ConfigError
from .base import Layer
from .workspace import Workspace


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

    workspace: Workspace | None = None  # set by a model while it trains or predicts (see layers.workspace)

    def _buffer(self, name: str, like: Array, dtype: Any) -> Array | None:
        """A reused buffer of ``like``'s (2-D) shape inside a model's loop; None (allocate) elsewhere."""
        ws = self.workspace
        if ws is None or like.ndim != 2:
            return None
        return ws.get(name, like.shape[0], like.shape[1], dtype)

    def _mask(self, shape: tuple[int, ...], dtype: np.dtype[Any], out: Array | None = None) -> Array:
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
        # a fresh array (or the loop's own buffer): backward still needs it after the boolean buffer is refilled
        return np.multiply(self._keep, dtype.type(1.0 / (1.0 - self.rate)), dtype=dtype, out=out)

    def forward(self, x: Array, training: bool = False) -> Array:
        if not training or self.rate == 0.0:
            if training:
                self.cache = {"mask": None}
            return x
        dtype = x.dtype if np.issubdtype(x.dtype, np.floating) else np.dtype(backend.floatx())
        mask = self._mask(x.shape, dtype, self._buffer("mask", x, dtype))
        self.cache = {"mask": mask}
        return np.multiply(x, mask, out=self._buffer("y", x, np.result_type(x, mask)))

    def backward(self, grad_output: Array) -> Array:
        mask = self.read_cache("mask")
        if mask is None:
            return grad_output
        out = self._buffer("grad_x", grad_output, np.result_type(grad_output, mask))
        return np.multiply(grad_output, mask, out=out)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "rate": self.rate, "seed": self.seed}
