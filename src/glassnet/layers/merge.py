"""Merge layers: several inputs in, one output out; ``backward`` returns one gradient per input.

With inputs x_1..x_n and g = dL/dy:

* ``Add``:          y = x_1 + ... + x_n;          dL/dx_i = g
* ``Multiply``:     y = x_1 * ... * x_n;          dL/dx_i = g * prod_{j != i} x_j   (no division, so zeros are fine)
* ``Concatenate``:  y = [x_1, ..., x_n] on axis;  dL/dx_i = the slice of g that x_i filled

They declare ``takes_input_list = True``: the ``Layer`` base class turns the list into arrays, checks
the batch sizes and builds them with the list of input shapes (see ``glassnet.layers.base``).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .._typing import Array, Shape
from ..errors import ConfigError, ShapeError
from .base import Layer


class Merge(Layer):
    """Base class: ``forward([x_1, ..., x_n])`` with n >= 2; subclasses define ``_merge`` and ``_split``."""

    takes_input_list = True

    def build(self, input_shape: list[Shape]) -> None:  # type: ignore[override]  # takes_input_list
        self._output_shape(self._shapes(input_shape))  # refuses shapes that do not merge

    def compute_output_shape(self, input_shape: Any) -> Shape:
        return self._output_shape(self._shapes(input_shape))

    def _shapes(self, input_shape: list[Shape]) -> list[Shape]:
        if len(input_shape) < 2:
            raise ShapeError(f"layer {self.name!r} ({type(self).__name__}) needs at least 2 inputs, got "
                             f"{len(input_shape)}; hint: call it as {type(self).__name__}()([a, b])")
        return list(input_shape)

    def _output_shape(self, shapes: list[Shape]) -> Shape:
        """Elementwise merges: every input has the same shape, which is the output shape."""
        for k, shape in enumerate(shapes[1:], start=1):
            if shape != shapes[0]:
                raise ShapeError(f"layer {self.name!r} ({type(self).__name__}) needs inputs of one shape; input 0 "
                                 f"has {_batch(shapes[0])} but input {k} has {_batch(shape)}; hint: add a Dense "
                                 "layer to match widths, or use Concatenate")
        return shapes[0]

    def forward(self, x: list[Array], training: bool = False) -> Array:  # type: ignore[override]
        y = self._merge(x)
        self.cache = {"xs": x} if training else {}
        return y

    def backward(self, grad_output: Array) -> list[Array]:  # type: ignore[override]
        """One gradient per input, in input order."""
        xs = self.read_cache("xs")
        return self._split(grad_output, xs)

    def _merge(self, xs: list[Array]) -> Array:
        raise NotImplementedError

    def _split(self, grad: Array, xs: list[Array]) -> list[Array]:
        raise NotImplementedError


class Add(Merge):
    """y = x_1 + ... + x_n (same shapes); dL/dx_i = dL/dy."""

    def _merge(self, xs: list[Array]) -> Array:
        y = xs[0] + xs[1]
        for item in xs[2:]:
            y += item
        return y

    def _split(self, grad: Array, xs: list[Array]) -> list[Array]:
        return [grad for _ in xs]


class Multiply(Merge):
    """y = x_1 * ... * x_n (same shapes); dL/dx_i = dL/dy * prod_{j != i} x_j."""

    def _merge(self, xs: list[Array]) -> Array:
        y = xs[0] * xs[1]
        for item in xs[2:]:
            y *= item
        return y

    def _split(self, grad: Array, xs: list[Array]) -> list[Array]:
        grads = []
        for i in range(len(xs)):
            g = grad.copy()
            for j, item in enumerate(xs):
                if j != i:
                    g *= item
            grads.append(g)
        return grads


class Concatenate(Merge):
    """y = the inputs joined along ``axis`` (counted with the batch axis, so -1 is the feature axis);
    dL/dx_i = the slice of dL/dy at x_i's position. Other axes must match."""

    def __init__(self, axis: int = -1, name: str | None = None, trainable: bool = True) -> None:
        super().__init__(name=name, trainable=trainable)
        if isinstance(axis, bool) or not isinstance(axis, (int, np.integer)) or axis == 0:
            raise ConfigError(f"Concatenate: axis must be a non-zero integer (0 is the batch axis), got {axis!r}")
        self.axis = int(axis)

    def _feature_axis(self, ndim: int) -> int:
        """The axis within a shape without the batch axis."""
        axis = self.axis - 1 if self.axis > 0 else ndim + self.axis
        if not 0 <= axis < ndim:
            raise ShapeError(f"layer {self.name!r} (Concatenate): axis={self.axis} does not exist for inputs with "
                             f"{ndim} non-batch axes; hint: use axis=-1 for the feature axis")
        return axis

    def _output_shape(self, shapes: list[Shape]) -> Shape:
        ndim = len(shapes[0])
        axis = self._feature_axis(ndim)
        for k, shape in enumerate(shapes[1:], start=1):
            if len(shape) != ndim or shape[:axis] + shape[axis + 1:] != shapes[0][:axis] + shapes[0][axis + 1:]:
                raise ShapeError(f"layer {self.name!r} (Concatenate): input 0 has {_batch(shapes[0])} but input {k} "
                                 f"has {_batch(shape)}; only axis {self.axis} may differ")
        return shapes[0][:axis] + (sum(s[axis] for s in shapes),) + shapes[0][axis + 1:]

    def _merge(self, xs: list[Array]) -> Array:
        return np.concatenate(xs, axis=self._feature_axis(xs[0].ndim - 1) + 1)

    def _split(self, grad: Array, xs: list[Array]) -> list[Array]:
        axis = self._feature_axis(xs[0].ndim - 1) + 1
        cuts = np.cumsum([item.shape[axis] for item in xs[:-1]])
        return np.split(grad, cuts, axis=axis)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "axis": self.axis}


def _batch(shape: Shape) -> str:
    return "(batch, " + ", ".join(str(s) for s in shape) + ")"
