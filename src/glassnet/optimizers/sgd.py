"""Stochastic gradient descent, with optional momentum and Nesterov momentum."""

from __future__ import annotations

from typing import Any

import numpy as np

from .._typing import Array
from .base import Optimizer, SlotGetter, check_in_range


class SGD(Optimizer):
    """Gradient descent in the notes' velocity form.

        plain     w = w - lr g
        momentum  v = momentum v + lr g;  w = w - v
        nesterov  v = momentum v + lr g;  w = w - momentum v - lr g

    The Nesterov line is the textbook look-ahead rule v = momentum v + lr grad(w - momentum v) rewritten
    in the variable w' = w - momentum v, so only the gradient at the stored weights is needed; written
    with the old velocity it is w = w - momentum^2 v_old - (1 + momentum) lr g.
    """

    name = "sgd"
    elementwise = True

    def __init__(
        self, learning_rate: Any = 0.01, momentum: float = 0.0, nesterov: bool = False, **clip: Any
    ) -> None:
        super().__init__(learning_rate, **clip)
        self.momentum = check_in_range("momentum", momentum, 0.0, 1.0)
        self.nesterov = bool(nesterov)

    def apply(self, w: Array, g: Array, slot: SlotGetter, lr: float) -> None:
        step = slot("_scratch")  # lr g, formed once in a reused buffer instead of a new temporary
        np.multiply(g, lr, out=step)
        if not self.momentum:
            w -= step
            return
        velocity = slot("velocity")
        velocity *= self.momentum
        velocity += step
        if self.nesterov:
            w -= step
            np.multiply(velocity, self.momentum, out=step)
        else:
            step = velocity
        w -= step

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "momentum": self.momentum, "nesterov": self.nesterov}
