"""Wrappers: layers that run another layer in a new way (Bidirectional, TimeDistributed), as in Keras.

A wrapper owns its inner layers: their parameters are its parameters (named ``<wrapper>/<inner>/...``),
and ``get_config`` stores the inner layer's config, rebuilt by ``deserialize_layer``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .._typing import Array, Shape
from ..errors import ConfigError, ShapeError
from ..parameter import Parameter
from .base import Layer


def _own(method: Any) -> Any:
    method._glassnet_wrapped = True
    return method


class _Wrapper(Layer):
    """Shared by the wrappers: inner layers, their parameter names, seeds and input-gradient flag."""

    def _inner(self) -> list[Layer]:
        raise NotImplementedError

    def _rename_parameters(self) -> None:
        for layer in getattr(self, "_layers", []):
            layer.set_scope(f"{self._scope}{self.name}/")

    def parameters(self, trainable_only: bool = False) -> list[Parameter]:
        if trainable_only and not self.trainable:
            return []
        return [p for layer in self._inner() for p in layer.parameters(trainable_only)]

    def reseed(self, rng: np.random.Generator) -> None:
        for layer in self._inner():
            layer.reseed(np.random.default_rng(rng.integers(2**63)))

    def _pass_input_grad_flag(self) -> None:
        for layer in self._inner():
            layer.input_grad_required = self.input_grad_required


def _serialize(layer: Layer) -> dict[str, Any]:
    from . import serialize_layer

    return serialize_layer(layer)


def _deserialize(config: dict[str, Any]) -> Layer:
    from . import deserialize_layer

    return deserialize_layer(config)


class Bidirectional(_Wrapper):
    """Run a recurrent layer forwards and a copy of it backwards over the sequence, then merge.

    y_f = layer(x_1 .. x_T), y_b = copy(x_T .. x_1) with its sequence re-reversed (so y_b[t] has seen
    x_t .. x_T), and y = merge(y_f, y_b):

        "concat": [y_f, y_b] on the last axis   backward: the two halves of dL/dy
        "sum": y_f + y_b       (dL/dy to each)   "ave": (y_f + y_b) / 2   (dL/dy / 2 to each)
        "mul": y_f * y_b       (dL/dy * y_b, dL/dy * y_f)                 None: the list [y_f, y_b]

    dL/dx is the sum of the two layers' input gradients. The backward copy is rebuilt from the layer's
    config with ``go_backwards`` flipped (fresh weights), unless ``backward_layer`` is given. With a
    mask, a masked step outputs zeros in both directions when ``return_sequences`` (as Keras). With
    ``return_state``: [y, *forward states, *backward states]; initial states as ``[x, *forward states,
    *backward states]``. Weights: the forward layer's, then the backward layer's.
    PyTorch's ``nn.LSTM(bidirectional=True)`` is merge_mode="concat".
    """

    takes_mask = True
    accepts_input_list = True  # in a graph: x, or [x, *forward states, *backward states] (``initial_state=``)
    input_rank = 2  # (timesteps, features) per sample, as the layer it wraps

    def __init__(self, layer: Layer, merge_mode: str | None = "concat", backward_layer: Layer | None = None,
                 name: str | None = None, trainable: bool = True) -> None:
        if not hasattr(layer, "go_backwards") or not hasattr(layer, "return_sequences"):
            raise ConfigError(f"Bidirectional wraps a recurrent layer (SimpleRNN, LSTM, GRU), got "
                              f"{type(layer).__name__}")
        if merge_mode not in ("concat", "sum", "mul", "ave", None):
            raise ConfigError(f"Bidirectional: merge_mode must be one of 'concat', 'sum', 'mul', 'ave', None; got "
                              f"{merge_mode!r}")
        super().__init__(name=name, trainable=trainable)
        self.merge_mode = merge_mode
        config = _serialize(layer)
        self.forward_layer = _deserialize(config)
        self.forward_layer.name = f"forward_{layer.name}"
        if backward_layer is None:
            config["config"] = {**config["config"], "go_backwards": not layer.go_backwards}  # type: ignore[attr-defined]
            backward_layer = _deserialize(config)
            backward_layer.name = f"backward_{layer.name}"
        self.backward_layer = backward_layer
        self._layers = [self.forward_layer, self.backward_layer]
        for inner in self._layers:
            inner.zero_output_for_mask = inner.return_sequences  # type: ignore[attr-defined]
        self._rename_parameters()
        self.return_sequences = bool(layer.return_sequences)  # type: ignore[attr-defined]
        self.return_state = bool(getattr(layer, "return_state", False))
        self.n_states = int(getattr(layer, "n_states", 1))

    def _inner(self) -> list[Layer]:
        return self._layers

    def __call__(self, x: Any, training: bool = False, initial_state: Any = None) -> Any:
        """``forward`` on arrays, a graph node on symbolic tensors; ``initial_state=[*forward states,
        *backward states]`` (as Keras: [h_f, c_f, h_b, c_b] for an LSTM, each (batch, units)) starts each
        direction from its states: a call on [x, *states]."""
        if initial_state is not None:
            states = list(initial_state) if isinstance(initial_state, (list, tuple)) else [initial_state]
            if len(states) != 2 * self.n_states:
                raise ShapeError(f"layer {self.name!r} (Bidirectional): initial_state must hold {2 * self.n_states} "
                                 f"states (the forward layer's, then the backward layer's), got {len(states)}; "
                                 "hint: pass a Bidirectional encoder's states, _, *states = Bidirectional(LSTM(u, "
                                 "return_state=True))(x)")
            x = [x, *states]
        return super().__call__(x, training=training)

    @staticmethod
    def _x_shape(input_shape: Any) -> Shape:
        """x's shape from one shape or the list [x, *states] of a call with initial states."""
        if isinstance(input_shape, list) and input_shape and isinstance(input_shape[0], (list, tuple)):
            return tuple(int(s) for s in input_shape[0])
        return tuple(int(s) for s in input_shape)

    @_own
    def build(self, input_shape: Any) -> None:
        if isinstance(input_shape, list) and input_shape and isinstance(input_shape[0], (list, tuple)):
            states = [tuple(int(v) for v in s) for s in input_shape[1:]]
            units = [self.forward_layer.units] * self.n_states + [self.backward_layer.units] * self.n_states  # type: ignore[attr-defined]
            if states != [(u,) for u in units]:
                raise ShapeError(f"layer {self.name!r} (Bidirectional) takes x or [x, *forward states, *backward "
                                 f"states] with states of shapes {[(u,) for u in units]} (batch axis omitted), got "
                                 f"{states}")
        shape = self._x_shape(input_shape)
        for layer in self._layers:
            if not layer.built:
                layer.build(shape)
        self.input_shape = shape
        self.output_shape = self.compute_output_shape(shape)
        self.built = True

    def compute_output_shape(self, input_shape: Any) -> Any:
        input_shape = self._x_shape(input_shape)

        def first(shape: Any) -> Shape:
            return tuple(shape[0]) if self.return_state else tuple(shape)

        f = first(self.forward_layer.compute_output_shape(input_shape))
        b = first(self.backward_layer.compute_output_shape(input_shape))
        out: Any = f[:-1] + (f[-1] + b[-1],) if self.merge_mode == "concat" else f
        if self.merge_mode is None:
            out = [f, b]
        if self.return_state:
            units = [(self.forward_layer.units,)] * self.n_states  # type: ignore[attr-defined]
            back = [(self.backward_layer.units,)] * self.n_states  # type: ignore[attr-defined]
            return [out, *units, *back]
        return out

    def compute_mask(self, x: Any, mask: Array | None) -> Array | None:
        return mask if self.return_sequences else None

    @_own
    def forward(self, inputs: Any, training: bool = False, mask: Any = None) -> Any:
        if isinstance(inputs, (list, tuple)):
            x, states = inputs[0], list(inputs[1:])
            if len(states) != 2 * self.n_states:
                raise ShapeError(f"layer {self.name!r} (Bidirectional) takes x or [x, *forward states, *backward "
                                 f"states] ({2 * self.n_states} states), got {len(states)} states")
            args_f: Any = [x, *states[: self.n_states]]
            args_b: Any = [x, *states[self.n_states :]]
        else:
            x = args_f = args_b = inputs
        x = np.asarray(x)
        if not self.built:
            self.build(x.shape[1:])
        out_f = self.forward_layer.forward(args_f, training, mask=mask)  # type: ignore[call-arg]
        out_b = self.backward_layer.forward(args_b, training, mask=mask)  # type: ignore[call-arg]
        y_f, states_f = (out_f[0], list(out_f[1:])) if self.return_state else (out_f, [])
        y_b, states_b = (out_b[0], list(out_b[1:])) if self.return_state else (out_b, [])
        if self.return_sequences:
            y_b = y_b[:, ::-1]  # back to the input's time order
        y = self._merge(y_f, y_b)
        self.cache = {"y_f": y_f, "y_b": y_b, "several": isinstance(inputs, (list, tuple))} if training else {}
        return [y, *states_f, *states_b] if self.return_state else y

    def _merge(self, y_f: Array, y_b: Array) -> Any:
        if self.merge_mode == "concat":
            return np.concatenate([y_f, y_b], axis=-1)
        if self.merge_mode == "sum":
            return y_f + y_b
        if self.merge_mode == "ave":
            return (y_f + y_b) * np.asarray(0.5, dtype=y_f.dtype)
        if self.merge_mode == "mul":
            return y_f * y_b
        return [y_f, y_b]

    def backward(self, grad_output: Any) -> Any:  # type: ignore[override]
        y_f, y_b, several = self.read_cache("y_f", "y_b", "several")
        grads = list(grad_output) if self.return_state else [grad_output]
        g = grads[0]
        if g is None:  # only the states feed the loss (an encoder): nothing flows in through y
            g_f = g_b = None
        elif self.merge_mode == "concat":
            u = y_f.shape[-1]
            g_f, g_b = g[..., :u], g[..., u:]
        elif self.merge_mode == "sum":
            g_f = g_b = g
        elif self.merge_mode == "ave":
            g_f = g_b = g * np.asarray(0.5, dtype=g.dtype)
        elif self.merge_mode == "mul":
            g_f, g_b = g * y_b, g * y_f
        else:
            g_f, g_b = g
        if self.return_sequences and g_b is not None:
            g_b = g_b[:, ::-1]
        n = self.n_states
        if self.return_state:
            g_f, g_b = [g_f, *grads[1 : 1 + n]], [g_b, *grads[1 + n :]]
        self._pass_input_grad_flag()
        dx_f: Any = self.forward_layer.backward(g_f)
        dx_b: Any = self.backward_layer.backward(g_b)
        if several:
            dx = None if dx_f[0] is None else dx_f[0] + dx_b[0]
            return [dx, *dx_f[1:], *dx_b[1:]]
        return None if dx_f is None else dx_f + dx_b

    def get_config(self) -> dict[str, Any]:
        layer = _serialize(self.forward_layer)
        layer["config"]["name"] = self.forward_layer.name.removeprefix("forward_")
        return {**super().get_config(), "layer": layer, "merge_mode": self.merge_mode,
                "backward_layer": _serialize(self.backward_layer)}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Bidirectional:
        config = dict(config)
        layer = _deserialize(config.pop("layer"))
        backward = config.pop("backward_layer", None)
        return cls(layer, backward_layer=None if backward is None else _deserialize(backward), **config)


class TimeDistributed(_Wrapper):
    """Apply a layer to every time step: y[:, t] = layer(x[:, t]).

    Done as one call on the batch and time axes merged, (batch, T, ...) -> (batch * T, ...), so a Dense
    inside is one GEMM over all steps; backward reshapes the same way. A mask passes through unchanged.
    """

    supports_masking = True

    def __init__(self, layer: Layer, name: str | None = None, trainable: bool = True) -> None:
        if not isinstance(layer, Layer):
            raise ConfigError(f"TimeDistributed wraps a glassnet layer, got {type(layer).__name__}")
        super().__init__(name=name, trainable=trainable)
        self.layer = layer
        self._layers = [layer]
        self._rename_parameters()

    def _inner(self) -> list[Layer]:
        return self._layers

    def build(self, input_shape: Shape) -> None:
        if len(input_shape) < 2:
            raise ShapeError(f"layer {self.name!r} (TimeDistributed) takes inputs (batch, timesteps, ...), got "
                             f"(batch, {', '.join(map(str, input_shape))})")
        if not self.layer.built:
            self.layer.build(input_shape[1:])

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        inner = self.layer.output_shape or self.layer.compute_output_shape(tuple(input_shape[1:]))
        return (input_shape[0], *inner)

    def check_input(self, x: Array) -> None:
        if self.input_shape is not None and x.shape[2:] != self.input_shape[1:]:
            raise ShapeError(f"layer {self.name!r} (TimeDistributed) expected steps of shape "
                             f"{self.input_shape[1:]}, got input {x.shape}")

    def forward(self, x: Array, training: bool = False) -> Array:
        batch, steps = x.shape[:2]
        y = self.layer.forward(x.reshape(batch * steps, *x.shape[2:]), training)
        if training:
            self.cache = {"batch_steps": (batch, steps), "x_shape": x.shape}
        return y.reshape(batch, steps, *y.shape[1:])

    def backward(self, grad_output: Array) -> Array | None:
        batch, steps = self.read_cache("batch_steps")
        self._pass_input_grad_flag()
        grad = self.layer.backward(grad_output.reshape(batch * steps, *grad_output.shape[2:]))
        return None if grad is None else grad.reshape(self.cache["x_shape"])

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "layer": _serialize(self.layer)}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> TimeDistributed:
        config = dict(config)
        return cls(_deserialize(config.pop("layer")), **config)
