"""RMSprop: AdaGrad with the running sum of squared gradients replaced by an EWMA."""

from __future__ import annotations

from typing import Any

import numpy as np

from .._typing import Array
from ..averages import ewma_update
from .adagrad import _step_over_root
from .base import Optimizer, SlotGetter, check_in_range, check_positive


class RMSprop(Optimizer):
    """RMSprop (Hinton, 2012) in the notes' form, epsilon inside the square root:

        E = rho E + (1 - rho) g^2;   w = w - lr g / sqrt(E + epsilon)

    E is the EWMA of g^2 (``glassnet.averages.ewma_update``), so unlike AdaGrad's sum it forgets old
    gradients (window about 1 / (1 - rho) steps) and the step size does not fade away. E is not
    bias-corrected, so the first steps are larger than lr (E starts at zero).
    Note: PyTorch's RMSprop puts epsilon outside the root, lr g / (sqrt(E) + epsilon).
    """

    name = "rmsprop"

    def __init__(
        self, learning_rate: Any = 0.001, rho: float = 0.9, epsilon: float = 1e-7, **clip: Any
    ) -> None:
        super().__init__(learning_rate, **clip)
        self.rho = check_in_range("rho", rho, 0.0, 1.0)
        self.epsilon = check_positive("epsilon", epsilon, allow_zero=True)

    def apply(self, w: Array, g: Array, slot: SlotGetter, lr: float) -> None:
        mean_square, scratch = slot("mean_square"), slot("_scratch")
        np.multiply(g, g, out=scratch)
        ewma_update(mean_square, scratch, self.rho, scratch)
        _step_over_root(w, g, mean_square, self.epsilon, lr, scratch)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "rho": self.rho, "epsilon": self.epsilon}
