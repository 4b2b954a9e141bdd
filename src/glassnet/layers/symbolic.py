"""Symbolic tensors: what ``layer(tensor)`` returns while a graph model is being described.

``a = Input(shape=(4,))`` declares a graph input; ``h = Dense(8)(a)`` then computes nothing: it builds
``Dense`` for inputs of shape ``(batch, 4)`` and records a ``Node`` (this layer, called on these
tensors) whose output is a new ``SymbolicTensor`` of shape ``(batch, 8)``. ``Model(inputs=a,
outputs=h)`` walks the nodes back from the outputs to find the graph. On a NumPy array ``layer(x)``
computes as before.

A layer with several outputs (a list of output shapes, e.g. ``LSTM(..., return_state=True)``:
[output, h, c]) records one node with one tensor per output, and ``layer(tensor)`` returns that list,
so ``y, h, c = LSTM(8, return_state=True)(x)`` unpacks as in Keras.
"""

from __future__ import annotations

from typing import Any

from .._typing import Shape
from ..errors import ConfigError, ShapeError


class Node:
    """One call of ``layer`` on symbolic ``inputs`` (a list; ``multi`` when the layer took a list); its
    ``outputs``: one tensor, or one per output of a layer with several (``output`` is the first)."""

    def __init__(self, layer: Any, inputs: list[SymbolicTensor], multi: bool) -> None:
        self.layer = layer
        self.inputs = inputs
        self.multi = multi
        self.outputs: list[SymbolicTensor] = []

    @property
    def output(self) -> SymbolicTensor | None:
        return self.outputs[0] if self.outputs else None


class SymbolicTensor:
    """A placeholder for the batch of values flowing along one edge of a graph.

    Args:
        shape: Shape without the batch axis.
        node: The call that produces it; ``None`` for a graph input.
        source: The ``Input`` layer it stands for (graph inputs only).
    """

    def __init__(self, shape: Shape, node: Node | None = None, source: Any = None, index: int = 0) -> None:
        self.shape = tuple(shape)
        self.node = node
        self.source = source
        self.index = index  # which output of the node (layers with several outputs)

    @property
    def name(self) -> str:
        layer = self.source if self.node is None else self.node.layer
        return str(layer.name)

    def __repr__(self) -> str:
        return f"SymbolicTensor(shape=(None, {', '.join(map(str, self.shape))}), from={self.name!r})"


def as_tensor(x: Any) -> SymbolicTensor | None:
    """The symbolic tensor ``x`` stands for (an ``Input`` layer stands for its tensor), else None."""
    if isinstance(x, SymbolicTensor):
        return x
    tensor = getattr(x, "symbolic_tensor", None)
    return tensor if isinstance(tensor, SymbolicTensor) else None


def is_symbolic(x: Any) -> bool:
    """True for a symbolic tensor, an ``Input``, or a list/tuple holding at least one of them."""
    if isinstance(x, (list, tuple)):
        return any(as_tensor(item) is not None for item in x)
    return as_tensor(x) is not None


def multi_output(shape: Any) -> bool:
    """True for a list of output shapes (a layer with several outputs), not one shape."""
    return isinstance(shape, list) and bool(shape) and all(isinstance(s, (list, tuple)) for s in shape)


def call_symbolic(layer: Any, x: Any) -> Any:
    """Record ``layer(x)`` for symbolic ``x``: build the layer for x's shape, return its output tensor."""
    # takes_input_list: always a list (merge layers); accepts_input_list: one tensor or a list (attention
    # with an optional key or mask, a decoder block with an optional encoder output)
    listed = isinstance(x, (list, tuple))
    multi = bool(getattr(layer, "takes_input_list", False)) or (listed and bool(getattr(layer, "accepts_input_list",
                                                                                         False)))
    if listed and not multi:
        raise ConfigError(
            f"layer {layer.name!r} ({type(layer).__name__}) takes one input, got a list of {len(x)}; hint: merge "
            "them first (Concatenate()([...])), or give the layer takes_input_list = True"
        )
    items = list(x) if isinstance(x, (list, tuple)) else [x]
    tensors: list[SymbolicTensor] = []
    for k, item in enumerate(items):
        tensor = as_tensor(item)
        if tensor is None:
            raise ConfigError(
                f"layer {layer.name!r} ({type(layer).__name__}) was called on a list mixing symbolic tensors and "
                f"{type(item).__name__} (item {k}); hint: in a graph, every input must come from Input(...) or "
                "from another layer's output"
            )
        tensors.append(tensor)
    if getattr(layer, "symbolic_tensor", None) is not None:
        raise ConfigError(f"Input {layer.name!r} cannot be called on a tensor; hint: pass it to the next layer instead")
    shape: Any = [t.shape for t in tensors] if multi else tensors[0].shape
    if not layer.built:
        layer.build(shape)
    elif _normalize(layer.input_shape) != _normalize(shape):
        raise ShapeError(
            f"layer {layer.name!r} ({type(layer).__name__}) was built for inputs {_describe(layer.input_shape)} "
            f"but is called on {_describe(shape)}; hint: a shared layer must see the same shapes at every call"
        )
    node = Node(layer, tensors, multi)
    if multi_output(layer.output_shape):
        node.outputs = [SymbolicTensor(tuple(s), node=node, index=k) for k, s in enumerate(layer.output_shape)]
        return list(node.outputs)
    node.outputs = [SymbolicTensor(tuple(layer.output_shape), node=node)]
    return node.outputs[0]


def _normalize(shape: Any) -> Any:
    if shape is None:
        return None
    if shape and isinstance(shape[0], (list, tuple)):
        return [tuple(s) for s in shape]
    return tuple(shape)


def _describe(shape: Any) -> str:
    shape = _normalize(shape)
    if isinstance(shape, list):
        return "[" + ", ".join(_describe(s) for s in shape) + "]"
    return "(batch, " + ", ".join(str(s) for s in shape) + ")"
