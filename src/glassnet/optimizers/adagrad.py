"""AdaGrad: a per-coordinate learning rate that shrinks with the gradients seen so far."""

from __future__ import annotations

from typing import Any

import numpy as np

from .._typing import Array
from .base import Optimizer, SlotGetter, check_positive


class Adagrad(Optimizer):
    """AdaGrad (Duchi et al., 2011) in the notes' form, epsilon inside the square root:

        G = G + g^2;   w = w - lr g / sqrt(G + epsilon)

    G only grows, so every coordinate's step size lr / sqrt(G) only shrinks: fast progress on rarely
    updated coordinates, and a step that fades away on long runs.
    """

    name = "adagrad"

    def __init__(self, learning_rate: Any = 0.01, epsilon: float = 1e-7, **clip: Any) -> None:
        super().__init__(learning_rate, **clip)
        self.epsilon = check_positive("epsilon", epsilon, allow_zero=True)

    def apply(self, w: Array, g: Array, slot: SlotGetter, lr: float) -> None:
        accumulator, scratch = slot("accumulator"), slot("_scratch")
        np.multiply(g, g, out=scratch)
        accumulator += scratch
        _step_over_root(w, g, accumulator, self.epsilon, lr, scratch)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "epsilon": self.epsilon}


def _step_over_root(
    w: Array, g: Array, accumulator: Array, epsilon: float, lr: float, scratch: Array
) -> None:
    """w = w - lr g / sqrt(accumulator + epsilon), through ``scratch`` (shared by AdaGrad and RMSprop)."""
    np.add(accumulator, epsilon, out=scratch)
    np.sqrt(scratch, out=scratch)
    np.divide(g, scratch, out=scratch)
    scratch *= lr
    w -= scratch
