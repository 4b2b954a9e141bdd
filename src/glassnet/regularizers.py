"""Weight penalties added to the training loss.

    L1(l1)       penalty = l1 * sum|w|                  gradient = l1 * sign(w)
    L2(l2)       penalty = l2 * sum(w^2)                gradient = 2 * l2 * w
    L1L2(l1, l2) the sum of both

(Keras convention: no 1/2 in front of the L2 sum.) The model adds each parameter's penalty, computed
from the weights used in the step's forward pass, to the reported training loss, and its gradient to
the parameter's ``grad`` after backpropagation.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ._registry import family
from ._typing import Array
from .errors import ConfigError


def _check_strength(name: str, value: float) -> float:
    value = float(value)
    if not (value >= 0.0 and np.isfinite(value)):
        raise ConfigError(f"regularizer strength {name} must be a finite number >= 0, got {value!r}")
    return value


class Regularizer:
    """Base class: ``penalty(w) -> float`` (also ``__call__``) and ``gradient(w) -> array``."""

    def penalty(self, w: Array) -> float:
        raise NotImplementedError

    def gradient(self, w: Array) -> Array:
        raise NotImplementedError

    def add_gradient(self, w: Array, grad: Array) -> None:
        """grad += gradient(w), in place."""
        grad += self.gradient(w)

    def __call__(self, w: Array) -> float:
        return self.penalty(w)

    def get_config(self) -> dict[str, Any]:
        raise NotImplementedError


class L1L2(Regularizer):
    """l1 * sum|w| + l2 * sum(w^2); gradient l1 * sign(w) + 2 l2 w."""

    def __init__(self, l1: float = 0.0, l2: float = 0.0) -> None:
        self.l1 = _check_strength("l1", l1)
        self.l2 = _check_strength("l2", l2)

    def penalty(self, w: Array) -> float:
        total = 0.0
        if self.l1:
            total += self.l1 * float(np.abs(w).sum())
        if self.l2:
            total += self.l2 * float(np.vdot(w, w))
        return total

    def gradient(self, w: Array) -> Array:
        grad = np.zeros_like(w)
        self.add_gradient(w, grad)
        return grad

    def add_gradient(self, w: Array, grad: Array) -> None:
        if self.l1:
            grad += self.l1 * np.sign(w)
        if self.l2:
            grad += (2.0 * self.l2) * w

    def get_config(self) -> dict[str, Any]:
        return {"l1": self.l1, "l2": self.l2}


class L1(L1L2):
    """l1 * sum|w|; gradient l1 * sign(w) (0 at w = 0)."""

    def __init__(self, l1: float = 0.01) -> None:
        super().__init__(l1=l1)

    def get_config(self) -> dict[str, Any]:
        return {"l1": self.l1}


class L2(L1L2):
    """l2 * sum(w^2); gradient 2 l2 w (weight decay through the loss)."""

    def __init__(self, l2: float = 0.01) -> None:
        super().__init__(l2=l2)

    def get_config(self) -> dict[str, Any]:
        return {"l2": self.l2}


REGULARIZERS = family("regularizer", Regularizer)
REGULARIZERS.register(L1, "l1")
REGULARIZERS.register(L2, "l2")
REGULARIZERS.register(L1L2, "l1_l2", "l1l2")


def get(identifier: Any) -> Regularizer | None:
    """Resolve ``None``, ``"l1"``, ``"l2"``, ``"l1_l2"``, a config dict or a ``Regularizer``."""
    if identifier is None:
        return None
    return REGULARIZERS.get(identifier)


__all__ = ["L1", "L1L2", "L2", "Regularizer", "get"]
