"""The ``Layer`` base class: forward, hand-written backward, parameters, cache.

Contract every layer keeps:

* ``forward(x, training=False) -> y``. With ``training=True`` it stores in ``self.cache`` exactly what
  ``backward`` needs; with ``training=False`` the cache is left empty.
* ``backward(grad_output) -> grad_input`` fills each parameter's ``.grad`` (overwriting it) and returns
  dL/dx. It never modifies ``grad_output``.
* A layer builds itself from its first input: ``build(input_shape)`` (shape without the batch axis)
  creates the parameters. Subclasses override ``build`` and ``forward``; the base class wraps both so
  that building happens once and bad input shapes are refused with a clear message.

Optional hooks, each with a safe default (a layer that ignores them is still correct):

* **Skipping an unneeded input gradient.** A model calls ``layer.require_input_grad(False)`` for the
  duration of ``fit`` on a layer whose input is the data (nobody uses dL/dx there). While
  ``input_grad_required`` is False, ``backward`` may skip that product and return ``None`` (a list of
  ``None`` for a layer with several inputs). Ignoring the flag and returning dL/dx is also correct.
* **Several inputs.** A layer that sets the class attribute ``takes_input_list = True`` (merge layers,
  attention with query/value/key) gets ``forward([x_1, ..., x_n])``: the base class turns each item
  into an array, checks that they share the batch size, builds with ``build([shape_1, ..., shape_n])``
  on the first call and afterwards checks them with ``check_input(list)``. ``compute_output_shape``
  receives the list of shapes, ``input_shape`` is that list, and ``backward(g)`` returns a list with
  one gradient per input, in input order.
* **Fused output head.** A layer whose output is ``a = f(z)`` for a named activation ``f`` may say so
  with ``output_activation`` (the activation's name) and implement ``backward_preactivation(dL/dz)``
  (backward from the gradient taken before ``f``). When such a layer produces a model output whose loss
  declares the same ``fused_activation`` (sigmoid + binary, softmax + categorical cross-entropy), the
  model hands it the stable dL/dz = (p - y) / N instead of multiplying the two Jacobians; see
  ``can_fuse`` and ``glassnet.models.Model``. A layer without the hook is simply not fused.
* **Added losses** (Keras' ``add_loss``, activity regularization). A layer may add a term R to the
  training objective: in ``forward(x, training=True)``, after setting ``self.cache``, it calls
  ``self.add_loss(R, name="kl_loss")``, and its ``backward`` returns dL/dx + dR/dx (the term's
  derivative lives beside its forward, like every other derivative). The model adds every term to the
  loss it reports and differentiates, and logs each by name (``added_losses()``); the contract
  harness puts the terms into the function it differentiates, so a forgotten dR/dx fails there.
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

_LOSSES_ADDED = False  # becomes True at the first add_loss: until then models skip collecting terms


def _wrap_build(build: Callable[..., None]) -> Callable[..., None]:
    @functools.wraps(build)
    def wrapped(self: Layer, input_shape: Any) -> None:
        shape: Any = _shape_list(self, input_shape) if self.takes_input_list else tuple(int(s) for s in input_shape)
        for one in shape if self.takes_input_list else [shape]:
            check_input_shape(one, f"layer {self.name!r} ({type(self).__name__})")  # only inside load_model
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
        if self.takes_input_list:
            x = _input_list(self, x)
        elif not isinstance(x, np.ndarray):
            x = np.asarray(x)
        if not self.built:
            if self.takes_input_list:
                self.build([item.shape[1:] for item in x])  # type: ignore[arg-type]
            elif x.ndim < 1:
                raise ShapeError(f"layer {self.name!r} ({type(self).__name__}) needs a batch axis, got a scalar")
            else:
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
        name: Kept as given. By default the class name in snake_case, numbered as Keras does
            (``dense``, ``dense_1``, ... per process; ``backend.clear_session`` restarts the count), so
            two standalone layers never share parameter names. A model also makes its layers' names unique.
        trainable: If False, the layer is frozen. The flag is written through to the ``trainable`` of each
            parameter created trainable (moving statistics stay non-trainable), as in Keras, so anything
            that honours ``Parameter.trainable`` (``optimizer.step(layer.parameters())``) skips a frozen
            layer; setting it on a model sets it on every layer inside.
    """

    # Whether ``forward`` takes a list of arrays (one per input) and ``backward`` returns a list (module doc).
    takes_input_list: bool = False
    # Name of the activation this layer applies last, when it can take dL/dz (``backward_preactivation``).
    output_activation: str | None = None

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        for method, wrap in (("build", _wrap_build), ("forward", _wrap_forward)):
            fn = cls.__dict__.get(method)
            if fn is not None and not getattr(fn, "_glassnet_wrapped", False):
                setattr(cls, method, wrap(fn))

    def __init__(self, name: str | None = None, trainable: bool = True) -> None:
        self._name = name or backend.unique_name(snake_case(type(self).__name__))
        self._scope = ""
        self._building = False
        self._params: dict[str, Parameter] = {}
        self._learnable: list[str] = []  # parameters created trainable: they follow ``self.trainable``
        self.cache: dict[str, Any] = {}
        self.built = False
        self.trainable = trainable
        self.input_shape: Shape | None = None
        self.output_shape: Shape | None = None
        self.input_grad_required = True
        self.dtype = backend.floatx()

    @property
    def trainable(self) -> bool:
        return self._trainable

    @trainable.setter
    def trainable(self, value: bool) -> None:
        self._trainable = bool(value)
        for key in self._learnable:
            self._params[key].trainable = self._trainable
        for layer in getattr(self, "layers", ()):  # a model's layers follow it
            layer.trainable = self._trainable

    def __getstate__(self) -> dict[str, Any]:
        """Copies and pickles leave out ``cache``: it holds one batch's intermediate values (and may hold
        closures), which the next training forward pass rebuilds."""
        state = dict(self.__dict__)
        state["cache"] = {}
        return state

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

    def check_input(self, x: Any) -> None:
        """Refuse an input whose shape does not fit the built layer (each item, for a list of inputs)."""
        if self.takes_input_list:
            _check_input_list(self, x)
            return
        if self.input_shape is not None and x.shape[1:] != self.input_shape:
            raise ShapeError(
                f"layer {self.name!r} ({type(self).__name__}) expected input of shape "
                f"{_batch_shape(self.input_shape)}, got {x.shape}; hint: a built layer keeps the input size "
                "it was first used with"
            )

    def add_parameter(
        self, name: str, value: Array, trainable: bool = True, regularizer: Any = None
    ) -> Parameter:
        """Create and register a parameter named ``<layer>/<name>`` (frozen while the layer is)."""
        param = Parameter(value, name=f"{self._scope}{self._name}/{name}", trainable=trainable and self.trainable,
                          regularizer=regularizer)
        self._params[name] = param
        if trainable and name not in self._learnable:
            self._learnable.append(name)
        elif not trainable and name in self._learnable:
            self._learnable.remove(name)
        return param

    # -- computing ------------------------------------------------------------------------------
    def forward(self, x: Array, training: bool = False) -> Array:
        """Identity by default."""
        return x

    def backward(self, grad_output: Array) -> Array | None:
        """dL/dx from dL/dy; fills parameters' ``.grad``. Identity by default."""
        return grad_output

    def backward_preactivation(self, grad_z: Array) -> Array | None:
        """Backward from dL/dz, the gradient before the output activation (fused loss; see ``can_fuse``)."""
        raise NotImplementedError(
            f"layer {self.name!r} ({type(self).__name__}) has no backward_preactivation; hint: a model only calls "
            "it when can_fuse(...) is True"
        )

    def can_fuse(self, activation: str) -> bool:
        """True if this layer ends in ``activation`` and implements ``backward_preactivation``, so a loss
        with that ``fused_activation`` may hand it dL/dz directly."""
        return (
            activation is not None
            and self.output_activation == activation
            and type(self).backward_preactivation is not Layer.backward_preactivation
        )

    def require_input_grad(self, required: bool) -> None:
        """Say whether ``backward`` must return dL/dx (models call this around ``fit``; module doc)."""
        self.input_grad_required = required

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

    # -- added losses ---------------------------------------------------------------------------
    def add_loss(self, value: float, name: str | None = None) -> None:
        """Add ``value`` to the training objective (call it in a training ``forward``, after setting
        ``self.cache``; ``backward`` must then include the term's gradient, see the module doc).

        Terms with the same ``name`` (default ``"<layer>_loss"``) add up; a call outside training or
        before ``self.cache`` is set is lost with the next forward pass.
        """
        global _LOSSES_ADDED
        _LOSSES_ADDED = True
        terms = self.cache.setdefault("added_losses", [])
        terms.append((name or f"{self.name}_loss", float(value)))

    def added_losses(self) -> dict[str, float]:
        """The terms added by the last training forward pass, by name (empty if none)."""
        totals: dict[str, float] = {}
        for name, value in self.cache.get("added_losses", ()):
            totals[name] = totals.get(name, 0.0) + value
        return totals

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


def _shape_list(layer: Layer, input_shape: Any) -> list[Shape]:
    """The shapes of a several-input layer's inputs, each as a tuple of ints."""
    if not isinstance(input_shape, (list, tuple)) or not input_shape or not all(
        isinstance(item, (list, tuple)) for item in input_shape
    ):
        raise ShapeError(f"layer {layer.name!r} ({type(layer).__name__}) takes a list of inputs, got input shape "
                         f"{input_shape!r}; hint: call it on a list, {type(layer).__name__}(...)([a, b])")
    return [tuple(int(s) for s in item) for item in input_shape]


def _input_list(layer: Layer, x: Any) -> list[Array]:
    """A several-input layer's inputs as a list of arrays with a batch axis and one batch size."""
    if not isinstance(x, (list, tuple)):
        if layer.built and type(layer).check_input is not Layer.check_input:
            layer.check_input(x)  # its own words first (a graph model names its inputs)
        raise ShapeError(f"layer {layer.name!r} ({type(layer).__name__}) takes a list of arrays, got "
                         f"{type(x).__name__}; hint: call it on a list, {type(layer).__name__}(...)([a, b])")
    xs = [item if isinstance(item, np.ndarray) else np.asarray(item) for item in x]
    for k, item in enumerate(xs):
        if item.ndim < 1:
            raise ShapeError(f"layer {layer.name!r} ({type(layer).__name__}): input {k} needs a batch axis, "
                             "got a scalar")
    if len({item.shape[0] for item in xs}) > 1:
        raise ShapeError(f"layer {layer.name!r} ({type(layer).__name__}): inputs have different batch sizes "
                         f"{[item.shape[0] for item in xs]}; hint: every input must hold the same samples")
    return xs


def _check_input_list(layer: Layer, xs: list[Array]) -> None:
    built: list[Shape] = list(layer.input_shape or [])  # type: ignore[arg-type]
    shapes = [item.shape[1:] for item in xs]
    if [tuple(s) for s in built] != shapes:
        raise ShapeError(f"layer {layer.name!r} ({type(layer).__name__}) was built for inputs "
                         f"{[_batch_shape(s) for s in built]}, got {[_batch_shape(s) for s in shapes]}; hint: "
                         "a built layer keeps the number and shapes of inputs it was first used with")
