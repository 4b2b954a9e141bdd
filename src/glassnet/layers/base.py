"""The ``Layer`` base class: forward, hand-written backward, parameters, cache.

Contract every layer keeps:

* ``forward(x, training=False) -> y``. With ``training=True`` it stores in ``self.cache`` exactly what
  ``backward`` needs; with ``training=False`` the cache is left empty.
* ``backward(grad_output) -> grad_input`` fills each parameter's ``.grad`` (overwriting it) and returns
  dL/dx. It never modifies ``grad_output``. When ``input_grad_required`` is False (set by a model for its
  first trainable layer during training) a layer may skip the input gradient and return ``None``.
* A layer builds itself from its first input: ``build(input_shape)`` (shape without the batch axis)
  creates the parameters. Subclasses override ``build`` and ``forward``; the base class wraps both so
  that building happens once and bad input shapes are refused with a clear message.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import numpy as np

from .. import backend
from .._budget import check_input_shape
from .._registry import snake_case
from .._typing import Array, Shape
from ..errors import ShapeError, StateError
from ..parameter import Parameter


def _wrap_build(build: Callable[..., None]) -> Callable[..., None]:
    @functools.wraps(build)
    def wrapped(self: Layer, input_shape: Any) -> None:
        shape = tuple(int(s) for s in input_shape)
        check_input_shape(shape, f"layer {self.name!r} ({type(self).__name__})")  # only inside load_model
        if getattr(self, "_building", False):
            build(self, shape)
            return
        self._building = True
        try:
            build(self, shape)
        finally:
            self._building = False
        self.input_shape = shape
        self.output_shape = tuple(self.compute_output_shape(shape))
        self.built = True

    wrapped._glassnet_wrapped = True  # type: ignore[attr-defined]
    return wrapped


def _wrap_forward(forward: Callable[..., Array]) -> Callable[..., Array]:
    @functools.wraps(forward)
    def wrapped(self: Layer, x: Any, training: bool = False) -> Array:
        if not isinstance(x, np.ndarray):
            x = np.asarray(x)
        if not self.built:
            if x.ndim < 1:
                raise ShapeError(f"layer {self.name!r} ({type(self).__name__}) needs a batch axis, got a scalar")
            self.build(x.shape[1:])
        else:
            self.check_input(x)
        if not training and self.cache:
            self.cache = {}
        return forward(self, x, training)

    wrapped._glassnet_wrapped = True  # type: ignore[attr-defined]
    return wrapped


class Layer:
    """Base class of every layer (and of models, which are layers too).

    Args:
        name: Unique name inside a model; defaults to the class name in snake_case.
        trainable: If False, its parameters are frozen (optimizers skip them).
    """

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        for method, wrap in (("build", _wrap_build), ("forward", _wrap_forward)):
            fn = cls.__dict__.get(method)
            if fn is not None and not getattr(fn, "_glassnet_wrapped", False):
                setattr(cls, method, wrap(fn))

    def __init__(self, name: str | None = None, trainable: bool = True) -> None:
        self._name = name or snake_case(type(self).__name__)
        self._scope = ""
        self._building = False
        self._params: dict[str, Parameter] = {}
        self.cache: dict[str, Any] = {}
        self.built = False
        self.trainable = trainable
        self.input_shape: Shape | None = None
        self.output_shape: Shape | None = None
        self.input_grad_required = True
        self.dtype = backend.floatx()

    # -- naming ---------------------------------------------------------------------------------
    @property
    def name(self) -> str:
        return self._name

    @name.setter
    def name(self, value: str) -> None:
        self._name = value
        self._rename_parameters()

    def set_scope(self, scope: str) -> None:
        """Prefix parameter names with ``scope`` (set by a model that contains this one as a layer)."""
        self._scope = scope
        self._rename_parameters()

    def _rename_parameters(self) -> None:
        for key, param in self._params.items():
            param.name = f"{self._scope}{self._name}/{key}"

    # -- building -------------------------------------------------------------------------------
    def build(self, input_shape: Shape) -> None:
        """Create parameters for inputs of shape ``(batch,) + input_shape``. Default: none."""

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        """Output shape (without batch) for an input shape (without batch). Default: unchanged."""
        return input_shape

    def check_input(self, x: Array) -> None:
        """Refuse an input whose shape does not fit the built layer."""
        if self.input_shape is not None and x.shape[1:] != self.input_shape:
            raise ShapeError(
                f"layer {self.name!r} ({type(self).__name__}) expected input of shape "
                f"{_batch_shape(self.input_shape)}, got {x.shape}; hint: a built layer keeps the input size "
                "it was first used with"
            )

    def add_parameter(
        self, name: str, value: Array, trainable: bool = True, regularizer: Any = None
    ) -> Parameter:
        """Create and register a parameter named ``<layer>/<name>``."""
        param = Parameter(value, name=f"{self._scope}{self._name}/{name}", trainable=trainable,
                          regularizer=regularizer)
        self._params[name] = param
        return param

    # -- computing ------------------------------------------------------------------------------
    def forward(self, x: Array, training: bool = False) -> Array:
        """Identity by default."""
        return x

    def backward(self, grad_output: Array) -> Array | None:
        """dL/dx from dL/dy; fills parameters' ``.grad``. Identity by default."""
        return grad_output

    def __call__(self, x: Any, training: bool = False) -> Any:
        """``forward(x)`` on arrays; on a symbolic tensor (``Input`` or a layer's output) record a graph
        node instead and return the symbolic output (see ``layers.symbolic``)."""
        from .symbolic import call_symbolic, is_symbolic

        if is_symbolic(x):
            return call_symbolic(self, x)
        return self.forward(x, training=training)

    def read_cache(self, *keys: str) -> Any:
        """Values cached by the last ``forward(..., training=True)``; a clear error if there are none."""
        try:
            values = tuple(self.cache[k] for k in keys)
        except KeyError:
            raise StateError(
                f"layer {self.name!r}: backward() needs the values cached by forward(x, training=True); "
                "call forward with training=True first"
            ) from None
        return values[0] if len(values) == 1 else values

    def reseed(self, rng: np.random.Generator) -> None:
        """Take a new random generator (layers with random behaviour override this)."""

    # -- parameters -----------------------------------------------------------------------------
    def parameters(self, trainable_only: bool = False) -> list[Parameter]:
        """This layer's parameters in creation order (a frozen layer's count as non-trainable)."""
        params = list(self._params.values())
        if trainable_only:
            return [p for p in params if p.trainable and self.trainable]
        return params

    def count_params(self) -> int:
        if not self.built:
            raise StateError(f"layer {self.name!r} is not built yet; call build(input_shape) or forward(x) first")
        return sum(p.size for p in self.parameters())

    def get_weights(self) -> list[Array]:
        return [p.value.copy() for p in self.parameters()]

    def set_weights(self, weights: list[Array]) -> None:
        params = self.parameters()
        if len(weights) != len(params):
            raise ShapeError(f"layer {self.name!r} has {len(params)} weight arrays, got {len(weights)}")
        for param, value in zip(params, weights):
            param.value = value

    # -- serialization --------------------------------------------------------------------------
    def get_config(self) -> dict[str, Any]:
        """Constructor arguments that rebuild this layer (no weights)."""
        return {"name": self.name, "trainable": self.trainable}

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r})"


# The base class's own build/forward are wrapped too, so layers that inherit them (activation layers,
# Dropout) are also marked built, with shapes, on first use.
Layer.build = _wrap_build(Layer.build)  # type: ignore[method-assign]
Layer.forward = _wrap_forward(Layer.forward)  # type: ignore[method-assign]


def _batch_shape(shape: Shape) -> str:
    return "(batch, " + ", ".join(str(s) for s in shape) + ")"
