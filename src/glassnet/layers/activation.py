"""Activation layers: ``Activation(name)`` and one class per function, plus the learned ``PReLU``."""

from __future__ import annotations

from typing import Any

import numpy as np

from .. import activations, initializers
from .._registry import serialize
from .._typing import Array, Shape
from .base import Layer
from .core import _resolve


class Activation(Layer):
    """y = f(x) for a named activation; backward uses the cached output (see ``glassnet.activations``)."""

    def __init__(self, activation: Any, name: str | None = None) -> None:
        super().__init__(name=name)
        self.activation = _resolve(activations.get, activation, type(self).__name__, "activation")

    @property
    def output_activation(self) -> str:
        return self.activation.name

    def forward(self, x: Array, training: bool = False) -> Array:
        a = self.activation.forward(x)
        if training:
            self.cache = {"a": a}
        return a

    def backward(self, grad_output: Array) -> Array:
        return self.activation.backward(grad_output, self.read_cache("a"))

    def backward_preactivation(self, grad_z: Array) -> Array:
        """The gradient is already taken through the activation (fused loss): pass it on."""
        self.read_cache("a")
        return grad_z

    def get_config(self) -> dict[str, Any]:
        return {"name": self.name, "activation": serialize(self.activation)}


class _Fixed(Activation):
    """An activation layer whose function is fixed by the class."""

    function: type[activations.Activation] = activations.Linear

    def __init__(self, name: str | None = None, **kwargs: Any) -> None:
        super().__init__(self.function(**kwargs), name=name)

    def get_config(self) -> dict[str, Any]:
        return {"name": self.name, **self.activation.get_config()}


class ReLU(_Fixed):
    """y = max(x, 0)."""

    function = activations.ReLU


class Sigmoid(_Fixed):
    """y = 1 / (1 + exp(-x))."""

    function = activations.Sigmoid


class Tanh(_Fixed):
    """y = tanh(x)."""

    function = activations.Tanh


class SELU(_Fixed):
    """Scaled ELU with lambda = 1.0507009873554805, alpha = 1.6732632423543772."""

    function = activations.SELU


class Softmax(_Fixed):
    """y_i = exp(x_i) / sum_j exp(x_j) over the last axis."""

    function = activations.Softmax


class LeakyReLU(_Fixed):
    """y = x if x > 0 else alpha x."""

    function = activations.LeakyReLU

    def __init__(self, alpha: float = 0.01, name: str | None = None) -> None:
        super().__init__(name=name, alpha=alpha)


class ELU(_Fixed):
    """y = x if x > 0 else alpha (exp(x) - 1)."""

    function = activations.ELU

    def __init__(self, alpha: float = 1.0, name: str | None = None) -> None:
        super().__init__(name=name, alpha=alpha)


class PReLU(Layer):
    """y = x if x > 0 else alpha * x, with alpha learned, one per unit (He et al., 2015).

    Backward: dL/dx = g where x > 0 else alpha g;  dL/dalpha = sum over the batch of g x where x <= 0.
    Shapes: alpha has the input's shape without the batch axis (one per feature of (batch, features)).
    """

    def __init__(self, alpha_initializer: Any = 0.25, name: str | None = None, trainable: bool = True) -> None:
        super().__init__(name=name, trainable=trainable)
        if isinstance(alpha_initializer, (int, float)):
            alpha_initializer = initializers.Constant(alpha_initializer)
        self.alpha_initializer = _resolve(initializers.get, alpha_initializer, "PReLU", "alpha_initializer")

    @property
    def output_activation(self) -> str:
        """The nonlinearity this layer ends with (read by diagnostics; no loss fuses with it)."""
        return "prelu"

    def build(self, input_shape: Shape) -> None:
        self.alpha = self.add_parameter("alpha", self.alpha_initializer(input_shape, self.dtype))

    def forward(self, x: Array, training: bool = False) -> Array:
        y = np.where(x > 0, x, self.alpha.value * x)
        if training:
            self.cache = {"x": x}
        return y

    def backward(self, grad_output: Array) -> Array:
        x = self.read_cache("x")
        positive = x > 0
        np.sum(np.where(positive, 0, grad_output * x), axis=0, out=self.alpha.grad)
        return np.where(positive, grad_output, self.alpha.value * grad_output)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "alpha_initializer": serialize(self.alpha_initializer)}
