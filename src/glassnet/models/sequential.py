"""``Sequential``: a plain stack of layers, each feeding the next."""

from __future__ import annotations

from collections.abc import Set as AbstractSet
from typing import Any

from .._typing import Array, Shape
from ..errors import ConfigError, ShapeError
from ..layers.base import Layer
from ..layers.core import Input
from ..layers.masking import forward_layers_masked
from .model import Model


class Sequential(Model):
    """y = layer_n(... layer_2(layer_1(x))); backward runs the layers in reverse.

    ``Sequential([Input(shape=(4,)), Dense(5), ...])`` is built at once; without ``Input`` the model is
    built from the first data it sees.
    """

    _relu_fused: AbstractSet[int] = frozenset()  # layers whose ReLU backward the max pooling after them does (fit)

    def __init__(self, layers: list[Layer] | None = None, name: str | None = None) -> None:
        super().__init__(name=name)
        self._declared_input: Shape | None = None
        self._mask_free = False  # set while fit runs (_enter_session)
        # Adding a list builds and packs once at the end, and keeps the taken names in a set: linear
        # time, so a file with 16,000 layers loads in a second instead of minutes.
        self._bulk_names: set[str] | None = set()
        self._next_suffix: dict[str, int] = {}  # base name -> last suffix given, while adding a list
        try:
            for layer in layers or []:
                self.add(layer)
        finally:
            self._bulk_names, self._next_suffix = None, {}
        if self._declared_input is not None and self.layers:
            self.build(self._declared_input)

    def add(self, layer: Layer) -> None:
        """Append a layer (an ``Input`` first fixes the input shape and builds the model)."""
        if isinstance(layer, Input):
            if self.layers:
                raise ConfigError(f"{self.name}: Input must come first, before {self.layers[0].name!r}")
            self._declared_input = layer.shape
        elif isinstance(layer, Layer):
            bulk = getattr(self, "_bulk_names", None)
            taken = bulk if bulk is not None else {existing.name for existing in self.layers}
            base = layer.name
            k = self._next_suffix.get(base, 0) if bulk is not None else 0
            while layer.name in taken:
                k += 1
                layer.name = f"{base}_{k}"
            if bulk is not None:
                self._next_suffix[base] = k
            layer.set_scope(self.child_scope)
            self.layers.append(layer)
            if bulk is not None:
                bulk.add(layer.name)
                return
        else:
            raise ConfigError(f"{self.name}: expected a glassnet layer, got {type(layer).__name__}")
        if self._declared_input is not None and self.layers:
            self.build(self._declared_input)
        elif self.built:
            self.built = False

    def build(self, input_shape: Shape) -> None:
        shape = tuple(input_shape)
        for layer in self.layers:
            if not layer.built:
                layer.build(shape)
            elif layer.input_shape is not None and tuple(layer.input_shape) != shape:
                raise ShapeError(
                    f"layer {layer.name!r} was built for inputs {layer.input_shape} but receives {shape} "
                    f"in model {self.name!r}"
                )
            shape = tuple(layer.output_shape or shape)
        self.pack()

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        shape = tuple(input_shape)
        for layer in self.layers:
            shape = tuple(layer.output_shape) if layer.output_shape is not None else layer.compute_output_shape(shape)
        return shape

    def check_input(self, x: Array) -> None:
        if self.input_shape is not None and x.shape[1:] != self.input_shape:
            raise ShapeError(
                f"model {self.name!r} expects input of shape (batch, {', '.join(map(str, self.input_shape))}), "
                f"got {x.shape}; hint: the first layer was built for {self.input_shape[-1]} features"
            )

    def forward(self, x: Array, training: bool = False) -> Array:
        if self._mask_free:  # during fit, when no layer makes a mask: the plain chain
            for layer in self.layers:
                x = layer.forward(x, training)
            return x
        y, mask = forward_layers_masked(self.layers, x, training)  # passes masks along (see layers.masking)
        self._output_masks = None if mask is None else [mask]
        return y

    def _enter_session(self) -> None:
        self._mask_free = not any(getattr(layer, "compute_mask", None) for layer in self.layers)
        # a ReLU layer followed by max pooling: the pooling's backward returns dL/dz of the layer (see
        # layers.pooling._MaxPooling.fuses_relu_input), which then runs backward_preactivation
        self._relu_fused = {i for i, (layer, after) in enumerate(zip(self.layers, self.layers[1:]))
                            if getattr(after, "fuses_relu_input", False) and layer.can_fuse("relu")}
        for i in self._relu_fused:
            layer, pool = self._relu_pair(i)
            pool.relu_input = True
            if hasattr(layer, "relu_deferred"):  # conv layers: the pooling applies the ReLU as well
                layer.relu_deferred = pool.relu_in_forward = True

    def _relu_pair(self, i: int) -> tuple[Any, Any]:
        return self.layers[i], self.layers[i + 1]

    def _exit_session(self) -> None:
        self._mask_free = False
        for i in self._relu_fused:
            layer, pool = self._relu_pair(i)
            if hasattr(layer, "relu_deferred"):
                layer.relu_deferred = False
            pool.relu_input = pool.relu_in_forward = False
        self._relu_fused = frozenset()

    def _first_trainable(self) -> int:
        cached = self._session_first_trainable
        if cached is not None:  # fixed for the duration of fit (see Model.training_session)
            return cached
        for i, layer in enumerate(self.layers):
            if layer.parameters(trainable_only=True):
                return i
        return len(self.layers)

    def _output_layers(self) -> list[Layer]:
        return self.layers[-1:]

    def _input_grad_needs(self, required: bool) -> list[tuple[Layer, bool]]:
        """Without a required input gradient, the first trainable layer's is unused (and the layers
        before it are not run backward at all)."""
        first = 0 if required else self._first_trainable()
        return [(layer, required or i > first) for i, layer in enumerate(self.layers)]

    def _backward(self, grad: Array | None, from_preactivation: bool) -> Array | None:
        required = self.input_grad_required
        stop = 0 if required else self._first_trainable()  # nothing below the first trainable layer learns
        layers, last = self.layers, len(self.layers) - 1
        for i in range(last, stop - 1, -1):
            layer = layers[i]
            fused = (i == last and from_preactivation) or i in self._relu_fused
            grad = layer.backward_preactivation(grad) if fused else layer.backward(grad)  # type: ignore[arg-type]
        return grad if required else None

    def get_config(self) -> dict[str, Any]:
        from ..layers import serialize_layer

        return {
            "name": self.name,
            "input_shape": list(self.input_shape) if self.input_shape is not None else None,
            "layers": [serialize_layer(layer) for layer in self.layers],
        }

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Sequential:
        from ..layers import deserialize_layer
        from ..layers.core import Input

        layers: list[Layer] = []
        if config.get("input_shape"):
            layers.append(Input(shape=tuple(config["input_shape"])))
        layers += [deserialize_layer(c) for c in config.get("layers", [])]
        return cls(layers, name=config.get("name"))
