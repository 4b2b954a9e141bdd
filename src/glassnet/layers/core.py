"""Input and Dense: the building blocks of a multi-layer perceptron."""

from __future__ import annotations

from typing import Any

import numpy as np

from .. import activations, initializers, regularizers
from .._registry import serialize
from .._typing import Array, Shape
from ..errors import ConfigError, ShapeError
from .base import Layer
from .workspace import Workspace


class Input(Layer):
    """Declares the input shape of a model (without the batch axis); computes nothing.

    ``Sequential([Input(shape=(4,)), Dense(5)])`` is built at once, so ``summary()`` works before data.
    """

    def __init__(self, shape: Shape, name: str | None = None) -> None:
        super().__init__(name=name)
        try:
            self.shape = tuple(int(s) for s in shape)
        except TypeError:
            raise ConfigError(f"Input shape must be a tuple of ints such as (4,), got {shape!r}") from None
        if not self.shape or any(s <= 0 for s in self.shape):
            raise ConfigError(f"Input shape must be a non-empty tuple of positive ints, got {shape!r}")

    @property
    def symbolic_tensor(self) -> Any:
        """The graph input this layer declares: ``Dense(8)(Input(shape=(4,)))`` records a graph node."""
        if getattr(self, "_symbolic_tensor", None) is None:
            from .symbolic import SymbolicTensor

            self._symbolic_tensor = SymbolicTensor(self.shape, source=self)
        return self._symbolic_tensor

    def get_config(self) -> dict[str, Any]:
        return {"shape": list(self.shape), "name": self.name}


def _positive_int(name: str, value: Any, layer: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value <= 0:
        raise ConfigError(f"{layer}: {name} must be a positive integer, got {value!r}")
    return int(value)


class Dense(Layer):
    """Fully connected layer: y = activation(x @ kernel + bias).

    Args:
        units: Width of the output.
        activation: Name or ``Activation``; ``None`` is linear.
        use_bias: Whether to add ``bias``.
        kernel_initializer, bias_initializer: Names or ``Initializer`` objects.
        kernel_regularizer, bias_regularizer: Optional penalties ("l1", "l2", ``L2(0.01)``, ...).

    Shapes: x (batch, ..., n_in) -> y (batch, ..., units); kernel (n_in, units), bias (units,).

    Backward, with a = activation output and g = dL/dy:
        dL/dz = activation.backward(g, a);  kernel.grad = x^T dL/dz;  bias.grad = sum_batch dL/dz;
        dL/dx = dL/dz kernel^T
    """

    def __init__(
        self,
        units: int,
        activation: Any = None,
        use_bias: bool = True,
        kernel_initializer: Any = "glorot_uniform",
        bias_initializer: Any = "zeros",
        kernel_regularizer: Any = None,
        bias_regularizer: Any = None,
        name: str | None = None,
        trainable: bool = True,
    ) -> None:
        super().__init__(name=name, trainable=trainable)
        self.units = _positive_int("units", units, "Dense")
        where = f"Dense({units})"
        self.activation = _resolve(activations.get, activation, where, "activation")
        self.use_bias = bool(use_bias)
        self.kernel_initializer = _resolve(initializers.get, kernel_initializer, where, "kernel_initializer")
        self.bias_initializer = _resolve(initializers.get, bias_initializer, where, "bias_initializer")
        self.kernel_regularizer = _resolve(regularizers.get, kernel_regularizer, where, "kernel_regularizer")
        self.bias_regularizer = _resolve(regularizers.get, bias_regularizer, where, "bias_regularizer")

    @property
    def output_activation(self) -> str:  # type: ignore[override]  # read-only here, a plain attribute on Layer
        return self.activation.name

    def build(self, input_shape: Shape) -> None:
        if not input_shape:
            raise ShapeError(f"layer {self.name!r} (Dense) needs inputs with a feature axis, got shape {input_shape}")
        n_in = input_shape[-1]
        kernel = self.kernel_initializer((n_in, self.units), self.dtype)
        self.kernel = self.add_parameter("kernel", kernel, regularizer=self.kernel_regularizer)
        if self.use_bias:
            bias = self.bias_initializer((self.units,), self.dtype)
            self.bias = self.add_parameter("bias", bias, regularizer=self.bias_regularizer)

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        return tuple(input_shape[:-1]) + (self.units,)

    def check_input(self, x: Array) -> None:
        assert self.input_shape is not None
        if x.ndim < 2 or x.shape[-1] != self.input_shape[-1]:
            raise ShapeError(
                f"layer {self.name!r} (Dense) expected input of shape (batch, ..., {self.input_shape[-1]}), "
                f"got {x.shape}; hint: the previous layer's output width must equal this layer's input width"
            )

    supports_masking = True  # acts on each time step alone: a mask passes through (layers.masking)
    workspace: Workspace | None = None  # set by a model while it trains or predicts (see layers.workspace)

    def _buffer(self, name: str, like: Array, width: int) -> Array | None:
        """A reused (batch, width) buffer inside a model's loop; None (allocate) elsewhere or for >2-D input."""
        ws = self.workspace
        if ws is None or like.ndim != 2:
            return None
        dtype = like.dtype
        if dtype != self.kernel._value.dtype:
            dtype = np.result_type(dtype, self.kernel._value.dtype)
        return ws.get(name, like.shape[0], width, dtype)

    def forward(self, x: Array, training: bool = False) -> Array:
        if x.ndim > 2:  # one 2-D GEMM: matmul on 3-D x runs a GEMM per leading index (see layers.attention._mm)
            z = np.matmul(x.reshape(-1, x.shape[-1]), self.kernel.value).reshape(x.shape[:-1] + (self.units,))
        else:
            z = np.matmul(x, self.kernel.value, out=self._buffer("a", x, self.units))
        if self.use_bias:
            z += self.bias.value
        if self.activation.derivative_from_input:  # gelu, swish: backward needs z (and more), cached as "a"
            a, saved = self.activation.forward_saving(z, inplace=True) if training else (
                self.activation.forward(z, inplace=True), None)
        else:
            a = saved = self.activation.forward(z, inplace=True)  # z is ours and not needed again: reuse it
        if training:
            self.cache = {"x": x, "a": saved}
        return a

    def backward(self, grad_output: Array) -> Array | None:
        a = self.cache.get("a")
        if a is None:
            a = self.read_cache("a")  # raises the explanatory StateError
        grad_z = self.activation.backward_into(grad_output, a, self._buffer("grad_z", grad_output, self.units))
        return self.backward_preactivation(grad_z)

    def backward_preactivation(self, grad_z: Array) -> Array | None:
        """Backward from dL/dz (the gradient before the activation), as used when a loss is fused."""
        x = self.cache.get("x")
        if x is None:
            x = self.read_cache("x")
        if x.ndim == 2 and grad_z.ndim == 2:
            x2, g2 = x, grad_z
        else:
            x2, g2 = x.reshape(-1, x.shape[-1]), grad_z.reshape(-1, self.units)
        np.matmul(x2.T, g2, out=self.kernel.grad)
        if self.use_bias:
            np.add.reduce(g2, axis=0, out=self.bias.grad)  # = g2.sum(axis=0), without np.sum's dispatch
        if not self.input_grad_required:
            return None
        if grad_z.ndim > 2:
            return np.matmul(g2, self.kernel.value.T).reshape(grad_z.shape[:-1] + (self.kernel.shape[0],))
        return np.matmul(grad_z, self.kernel.value.T, out=self._buffer("grad_x", grad_z, self.kernel.shape[0]))

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "units": self.units,
            "activation": serialize(self.activation),
            "use_bias": self.use_bias,
            "kernel_initializer": serialize(self.kernel_initializer),
            "bias_initializer": serialize(self.bias_initializer),
            "kernel_regularizer": serialize(self.kernel_regularizer),
            "bias_regularizer": serialize(self.bias_regularizer),
        }


def _resolve(getter: Any, identifier: Any, where: str, argument: str) -> Any:
    """Resolve an identifier at construction, so a typo fails where it is written."""
    try:
        return getter(identifier)
    except ValueError as exc:
        raise type(exc)(f"{where} {argument}: {exc}") from None
