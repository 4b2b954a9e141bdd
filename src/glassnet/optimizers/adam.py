"""Adam and its two variants: AdamW (decoupled weight decay) and Nadam (Nesterov momentum)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .._typing import Array
from ..averages import ewma_update
from .base import Optimizer, SlotGetter, check_in_range, check_positive

# g^2 is capped at a quarter of the largest number of its dtype: for |g| beyond sqrt of that (1.8e19 in
# float32) the square would overflow to inf and v would stay inf, freezing that weight for good.
# The cap is a full array: np.minimum against an array is one fast pass, against a scalar about 4 times slower.
_CAPS: dict[tuple[str, tuple[int, ...]], Array] = {}


def _square_cap(like: Array) -> Array | float:
    """An array shaped like ``like`` holding finfo(dtype).max / 4, cached by dtype and shape; for arrays
    larger than a flat-pack block (an unpacked large parameter) the scalar, so no weight-sized copy is kept."""
    if like.size > Optimizer.block_size:
        return float(np.finfo(like.dtype).max / 4)
    key = (like.dtype.char, like.shape)
    cap = _CAPS.get(key)
    if cap is None:
        if len(_CAPS) > 64:  # sizes seen are few (packs and blocks); never grow without bound
            _CAPS.clear()
        cap = _CAPS[key] = np.full(like.shape, np.finfo(like.dtype).max / 4, dtype=like.dtype)
    return cap


class Adam(Optimizer):
    """Adam (Kingma and Ba, 2015): momentum on the gradient, RMSprop on its scale, both bias-corrected.

        m = b1 m + (1 - b1) g          (EWMA of g)
        v = b2 v + (1 - b2) g^2        (EWMA of g^2)
        m_hat = m / (1 - b1^t);  v_hat = v / (1 - b2^t)
        w = w - lr m_hat / (sqrt(v_hat) + epsilon)

    g^2 is capped at finfo(dtype).max / 4 before it enters v, so a huge gradient (|g| > 1.8e19 in float32)
    leaves v large but finite instead of inf (which would freeze that weight at a zero step for good).

    t counts steps from 1. Epsilon sits outside the root and is added to sqrt(v_hat) (as in PyTorch).
    Computed as ``w -= (lr c / (1 - b1^t)) m / (sqrt(v) + epsilon c)`` with c = sqrt(1 - b2^t), which is
    the formula above multiplied through by c: 12 in-place passes over one scratch buffer, no temporaries.
    """

    name = "adam"
    elementwise = True

    def __init__(
        self,
        learning_rate: Any = 0.001,
        beta_1: float = 0.9,
        beta_2: float = 0.999,
        epsilon: float = 1e-7,
        **clip: Any,
    ) -> None:
        super().__init__(learning_rate, **clip)
        self.beta_1 = check_in_range("beta_1", beta_1, 0.0, 1.0)
        self.beta_2 = check_in_range("beta_2", beta_2, 0.0, 1.0)
        self.epsilon = check_positive("epsilon", epsilon, allow_zero=True)

    def apply(self, w: Array, g: Array, slot: SlotGetter, lr: float) -> None:
        t = self.iterations + 1
        m, scratch = self._update_moments(g, slot)
        # lr m_hat / (sqrt(v_hat) + eps) = (lr c / (1 - b1^t)) m / (sqrt(v) + eps c), c = sqrt(1 - b2^t):
        # the same quantity with one pass fewer than forming sqrt(v_hat) + eps first.
        c = math.sqrt(1.0 - self.beta_2**t)
        np.sqrt(slot("second_moment"), out=scratch)
        scratch += self.epsilon * c
        np.divide(m, scratch, out=scratch)
        scratch *= lr * c / (1.0 - self.beta_1**t)
        w -= scratch

    def _update_moments(self, g: Array, slot: SlotGetter) -> tuple[Array, Array]:
        """Both EWMAs in place; returns (m, scratch)."""
        m, v, scratch = slot("first_moment"), slot("second_moment"), slot("_scratch")
        ewma_update(m, g, self.beta_1, scratch)
        np.multiply(g, g, out=scratch)
        np.minimum(scratch, _square_cap(scratch), out=scratch)  # no inf in v from |g| > 1.8e19 (float32)
        ewma_update(v, scratch, self.beta_2, scratch)
        return m, scratch

    def _denominator(self, v: Array, t: int, out: Array) -> Array:
        """sqrt(v_hat) + epsilon = sqrt(v) / sqrt(1 - b2^t) + epsilon, into ``out``."""
        np.sqrt(v, out=out)
        out /= math.sqrt(1.0 - self.beta_2**t)
        out += self.epsilon
        return out

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "beta_1": self.beta_1, "beta_2": self.beta_2, "epsilon": self.epsilon}


class AdamW(Adam):
    """Adam with decoupled weight decay (Loshchilov and Hutter, 2019):

        w = w - lr weight_decay w      (computed as w *= 1 - lr weight_decay, as PyTorch does)
        then the Adam step above.

    The decay shrinks the weights directly instead of adding weight_decay w to the gradient, so it is
    not rescaled by Adam's per-coordinate step size (which is what makes L2-in-the-gradient weak in Adam).
    """

    name = "adamw"

    def __init__(
        self,
        learning_rate: Any = 0.001,
        weight_decay: float = 0.004,
        beta_1: float = 0.9,
        beta_2: float = 0.999,
        epsilon: float = 1e-7,
        **clip: Any,
    ) -> None:
        super().__init__(learning_rate, beta_1, beta_2, epsilon, **clip)
        self.weight_decay = check_positive("weight_decay", weight_decay, allow_zero=True)

    def apply(self, w: Array, g: Array, slot: SlotGetter, lr: float) -> None:
        if self.weight_decay:
            w *= 1.0 - lr * self.weight_decay
        super().apply(w, g, slot, lr)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "weight_decay": self.weight_decay}


class Nadam(Adam):
    """Nadam (Dozat, 2016): Adam whose momentum step looks ahead, as Nesterov's does.

    With the momentum schedule mu_t = b1 (1 - 0.5 * 0.96^(t momentum_decay)) and
    P_t = mu_1 mu_2 ... mu_t:

        m = b1 m + (1 - b1) g;   v = b2 v + (1 - b2) g^2;   v_hat = v / (1 - b2^t)
        m_bar = mu_{t+1} m / (1 - P_t mu_{t+1}) + (1 - mu_t) g / (1 - P_t)
        w = w - lr m_bar / (sqrt(v_hat) + epsilon)

    m_bar mixes the next step's momentum (look-ahead) with the current gradient, each bias-corrected.
    This is the form of Keras's Nadam and ``torch.optim.NAdam`` (same momentum_decay = 0.004);
    ``momentum_decay=0`` gives the constant-momentum form mu_t = b1, P_t = b1^t.
    """

    name = "nadam"

    def __init__(
        self,
        learning_rate: Any = 0.001,
        beta_1: float = 0.9,
        beta_2: float = 0.999,
        epsilon: float = 1e-7,
        momentum_decay: float = 0.004,
        **clip: Any,
    ) -> None:
        super().__init__(learning_rate, beta_1, beta_2, epsilon, **clip)
        self.momentum_decay = check_positive("momentum_decay", momentum_decay, allow_zero=True)
        self._product_step, self._product = 0, 1.0

    def momentum_at(self, t: int) -> float:
        """mu_t = b1 (1 - 0.5 * 0.96^(t momentum_decay))."""
        return self.beta_1 * (1.0 - 0.5 * 0.96 ** (t * self.momentum_decay))

    def momentum_product(self, t: int) -> float:
        """P_t = mu_1 ... mu_t, multiplied in step order (cached, so each step costs one product)."""
        if self._product_step != t:
            if self._product_step != t - 1:
                self._product_step, self._product = 0, 1.0
            while self._product_step < t:
                self._product_step += 1
                self._product *= self.momentum_at(self._product_step)
        return self._product

    def apply(self, w: Array, g: Array, slot: SlotGetter, lr: float) -> None:
        t = self.iterations + 1
        mu, mu_next, product = self.momentum_at(t), self.momentum_at(t + 1), self.momentum_product(t)
        m, scratch = self._update_moments(g, slot)
        denom = self._denominator(slot("second_moment"), t, slot("_denominator"))
        np.divide(g, denom, out=scratch)
        scratch *= lr * (1.0 - mu) / (1.0 - product)
        w -= scratch
        np.divide(m, denom, out=scratch)
        scratch *= lr * mu_next / (1.0 - product * mu_next)
        w -= scratch

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "momentum_decay": self.momentum_decay}
