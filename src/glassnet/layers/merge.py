"""Merge layers: several inputs in, one output out; ``backward`` returns one gradient per input.

With inputs x_1..x_n and g = dL/dy:

* ``Add``:          y = x_1 + ... + x_n;          dL/dx_i = g
* ``Multiply``:     y = x_1 * ... * x_n;          dL/dx_i = g * prod_{j != i} x_j   (no division, so zeros are fine)
* ``Concatenate``:  y = [x_1, ..., x_n] on axis;  dL/dx_i = the slice of g that x_i filled

They take a list of arrays, so their ``build`` and ``forward`` check shapes themselves instead of
using the single-input wrapper of ``Layer``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .._typing import Array, Shape
from ..errors import ConfigError, ShapeError
from .base import Layer


def _own(method: Any) -> Any:
    """Mark a method as already handling building and checks (``Layer`` then leaves it unwrapped)."""
    method._glassnet_wrapped = True
    return method


class Merge(Layer):
    """Base class: ``forward([x_1, ..., x_n])`` with n >= 2; subclasses define ``_merge`` and ``_split``."""

    @_own
    def build(self, input_shape: Any) -> None:
        shapes = self._shapes(input_shape)
        self.output_shape = self._output_shape(shapes)
        self.input_shape = shapes  # type: ignore[assignment]
        self.built = True

    def compute_output_shape(self, input_shape: Any) -> Shape:
        return self._output_shape(self._shapes(input_shape))

    def _shapes(self, input_shape: Any) -> list[Shape]:
        if not isinstance(input_shape, (list, tuple)) or not input_shape or not isinstance(
            input_shape[0], (list, tuple)
        ):
            raise ShapeError(f"layer {self.name!r} ({type(self).__name__}) takes a list of at least 2 inputs, "
                             f"got input shape {input_shape!r}; hint: call it as {type(self).__name__}()([a, b])")
        shapes = [tuple(int(s) for s in shape) for shape in input_shape]
        if len(shapes) < 2:
            raise ShapeError(f"layer {self.name!r} ({type(self).__name__}) needs at least 2 inputs, got "
                             f"{len(shapes)}; hint: call it as {type(self).__name__}()([a, b])")
        return shapes

    def _output_shape(self, shapes: list[Shape]) -> Shape:
        """Elementwise merges: every input has the same shape, which is the output shape."""
        for k, shape in enumerate(shapes[1:], start=1):
            if shape != shapes[0]:
                raise ShapeError(f"layer {self.name!r} ({type(self).__name__}) needs inputs of one shape; input 0 "
                                 f"has {_batch(shapes[0])} but input {k} has {_batch(shape)}; hint: add a Dense "
                                 "layer to match widths, or use Concatenate")
        return shapes[0]

    @_own
    def forward(self, x: Any, training: bool = False) -> Array:
        if not isinstance(x, (list, tuple)):
            raise ShapeError(f"layer {self.name!r} ({type(self).__name__}) takes a list of arrays, got "
                             f"{type(x).__name__}; hint: call it as {type(self).__name__}()([a, b])")
        xs = [np.asarray(item) for item in x]
        for k, item in enumerate(xs):
            if item.ndim < 1:
                raise ShapeError(f"layer {self.name!r} ({type(self).__name__}): input {k} needs a batch axis, "
                                 "got a scalar")
        shapes = [item.shape[1:] for item in xs]
        if not self.built:
            self.build(shapes)
        else:
            built: list[Shape] = list(self.input_shape or [])  # type: ignore[arg-type]
            if [tuple(s) for s in built] != shapes:
                raise ShapeError(f"layer {self.name!r} ({type(self).__name__}) was built for inputs "
                                 f"{[_batch(s) for s in built]}, got {[_batch(s) for s in shapes]}")
        if len({item.shape[0] for item in xs}) != 1:
            raise ShapeError(f"layer {self.name!r} ({type(self).__name__}): inputs have different batch sizes "
                             f"{[item.shape[0] for item in xs]}; hint: every input must hold the same samples")
        y = self._merge(xs)
        self.cache = {"xs": xs} if training else {}
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
