"""ONNX export: a glassnet model as an ONNX graph in inference mode (``gn.export_onnx``).

Each layer class has a converter, a function ``(layer, graph, input names) -> output name`` that adds
ONNX nodes and constant initializers; ``@converter(LayerClass)`` registers one, so new layer families
add their own beside their code. Inference semantics: Dropout is the identity, BatchNormalization
uses its moving statistics (folded into one scale and shift), the batch axis is symbolic. A layer
without a converter is a clear error naming it. Needs the extra ``glassnet[onnx]`` (``onnx``).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import numpy as np

from .. import layers
from .._files import atomic_write
from ..errors import ConfigError, MissingDependencyError
from ..models import Functional, Model, Sequential

Converter = Callable[[Any, "Graph", list[str]], str]
CONVERTERS: dict[type, Converter] = {}
DEFAULT_OPSET = 17


def converter(*classes: type) -> Callable[[Converter], Converter]:
    """Register ``fn`` as the ONNX converter of ``classes`` (subclasses use the nearest registered base)."""

    def register(fn: Converter) -> Converter:
        for cls in classes:
            CONVERTERS[cls] = fn
        return fn

    return register


class Graph:
    """The ONNX graph being written: nodes, constant initializers, unique value names."""

    def __init__(self, onnx: Any, dtype: np.dtype[Any]) -> None:
        self.onnx = onnx
        self.dtype = dtype
        self.nodes: list[Any] = []
        self.initializers: list[Any] = []
        self._count: dict[str, int] = {}

    def name(self, hint: str) -> str:
        k = self._count.get(hint, 0)
        self._count[hint] = k + 1
        return hint if k == 0 else f"{hint}_{k}"

    def const(self, value: Any, hint: str, dtype: Any = None) -> str:
        """A constant tensor (the model's float dtype unless ``dtype`` is given)."""
        array = np.asarray(value, dtype=self.dtype if dtype is None else dtype)
        name = self.name(hint)
        self.initializers.append(self.onnx.numpy_helper.from_array(array, name))
        return name

    def op(self, op_type: str, inputs: list[str], hint: str, **attrs: Any) -> str:
        """Add one node with a single output; returns the output's name."""
        out = self.name(hint)
        self.nodes.append(self.onnx.helper.make_node(op_type, inputs, [out], name=self.name(f"{hint}/{op_type}"),
                                                     **attrs))
        return out


def _find_converter(layer: Any) -> Converter:
    for cls in type(layer).__mro__:
        if cls in CONVERTERS:
            return CONVERTERS[cls]
    raise ConfigError(f"export_onnx: layer {layer.name!r} ({type(layer).__name__}) has no ONNX converter; hint: "
                      "register one with glassnet.export.onnx.converter(LayerClass)")


# -- activations -------------------------------------------------------------------------------
def activation(graph: Graph, function: Any, x: str, hint: str) -> str:
    """The nodes of an activation function (``glassnet.activations``) applied to ``x``."""
    name = getattr(function, "name", None)
    if name in (None, "linear"):
        return x
    simple = {"relu": "Relu", "sigmoid": "Sigmoid", "tanh": "Tanh"}
    if name in simple:
        return graph.op(simple[name], [x], hint)
    if name == "softmax":
        return graph.op("Softmax", [x], hint, axis=-1)
    if name == "leaky_relu":
        return graph.op("LeakyRelu", [x], hint, alpha=float(function.alpha))
    if name == "elu":
        return graph.op("Elu", [x], hint, alpha=float(function.alpha))
    if name == "selu":
        from ..activations import SELU_ALPHA, SELU_LAMBDA

        return graph.op("Selu", [x], hint, alpha=float(SELU_ALPHA), gamma=float(SELU_LAMBDA))
    raise ConfigError(f"export_onnx: activation {name!r} ({hint}) has no ONNX form yet")


@converter(layers.Activation)
def _activation_layer(layer: Any, graph: Graph, inputs: list[str]) -> str:
    return activation(graph, layer.activation, inputs[0], layer.name)


@converter(layers.PReLU)
def _prelu(layer: Any, graph: Graph, inputs: list[str]) -> str:
    return graph.op("PRelu", [inputs[0], graph.const(layer.alpha.value, f"{layer.name}/alpha")], layer.name)


@converter(layers.Dropout)
def _identity(layer: Any, graph: Graph, inputs: list[str]) -> str:
    return graph.op("Identity", [inputs[0]], layer.name)


@converter(layers.Dense)
def _dense(layer: Any, graph: Graph, inputs: list[str]) -> str:
    z = graph.op("MatMul", [inputs[0], graph.const(layer.kernel.value, f"{layer.name}/kernel")], f"{layer.name}/matmul")
    if layer.use_bias:
        z = graph.op("Add", [z, graph.const(layer.bias.value, f"{layer.name}/bias")], f"{layer.name}/bias_add")
    return activation(graph, layer.activation, z, layer.name)


@converter(layers.BatchNormalization)
def _batch_norm(layer: Any, graph: Graph, inputs: list[str]) -> str:
    """y = x * scale + shift, scale = gamma / sqrt(moving_variance + eps), shift = beta - moving_mean * scale."""
    inv_std = 1.0 / np.sqrt(layer.moving_variance.value.astype(np.float64) + layer.epsilon)
    scale = inv_std * (layer.gamma.value if layer.scale else 1.0)
    shift = (layer.beta.value if layer.center else 0.0) - layer.moving_mean.value * scale
    y = graph.op("Mul", [inputs[0], graph.const(scale, f"{layer.name}/scale")], f"{layer.name}/mul")
    return graph.op("Add", [y, graph.const(shift, f"{layer.name}/shift")], layer.name)


@converter(layers.LayerNormalization)
def _layer_norm(layer: Any, graph: Graph, inputs: list[str]) -> str:
    channels = int(layer.input_shape[-1])
    gamma = layer.gamma.value if layer.scale else np.ones(channels)
    beta = layer.beta.value if layer.center else np.zeros(channels)
    return graph.op("LayerNormalization", [inputs[0], graph.const(gamma, f"{layer.name}/gamma"),
                                           graph.const(beta, f"{layer.name}/beta")],
                    layer.name, axis=-1, epsilon=float(layer.epsilon))


@converter(layers.Add)
def _add(layer: Any, graph: Graph, inputs: list[str]) -> str:
    return graph.op("Sum", inputs, layer.name)


@converter(layers.Multiply)
def _multiply(layer: Any, graph: Graph, inputs: list[str]) -> str:
    out = inputs[0]
    for k, other in enumerate(inputs[1:]):
        out = graph.op("Mul", [out, other], f"{layer.name}/mul{k}" if k < len(inputs) - 2 else layer.name)
    return out


@converter(layers.Concatenate)
def _concatenate(layer: Any, graph: Graph, inputs: list[str]) -> str:
    return graph.op("Concat", inputs, layer.name, axis=int(layer.axis))


# -- models ------------------------------------------------------------------------------------
@converter(Sequential)
def _sequential(model: Any, graph: Graph, inputs: list[str]) -> str:
    x = inputs[0]
    for layer in model.layers:
        x = _find_converter(layer)(layer, graph, [x])
    return x


@converter(Functional)
def _functional(model: Any, graph: Graph, inputs: list[str]) -> str:
    values: list[str | None] = [*inputs, *([None] * len(model._steps))]
    for step in model._steps:
        args = [values[s] for s in step.in_slots]
        values[step.out_slot] = _find_converter(step.layer)(step.layer, graph, args)  # type: ignore[arg-type]
    return values[-1]  # type: ignore[return-value]


def to_onnx(model: Model, opset: int = DEFAULT_OPSET) -> Any:
    """The ``onnx.ModelProto`` of ``model`` (built), checked with ``onnx.checker`` (full check)."""
    try:
        import onnx
        import onnx.numpy_helper  # noqa: F401
    except ImportError as exc:
        raise MissingDependencyError("export_onnx needs onnx; install it with: pip install 'glassnet[onnx]'") from exc
    if not model.built:
        raise ConfigError(f"export_onnx: model {model.name!r} is not built; hint: call it on data or give it an "
                          "Input first")
    dtype = np.dtype(model.dtype)
    elem = onnx.helper.np_dtype_to_tensor_dtype(dtype)
    shapes = model.input_shape if isinstance(model, Functional) and len(model.inputs) > 1 else [model.input_shape]
    names = [inp.name for inp in model.inputs] if isinstance(model, Functional) else ["input"]
    graph = Graph(onnx, dtype)
    for name in names:
        graph.name(name)
    output = _find_converter(model)(model, graph, list(names))
    output = graph.op("Identity", [output], "output")
    proto = onnx.helper.make_graph(
        graph.nodes, model.name,
        [onnx.helper.make_tensor_value_info(n, elem, ["batch", *s]) for n, s in zip(names, shapes)],
        [onnx.helper.make_tensor_value_info(output, elem, ["batch", *model.output_shape])],
        graph.initializers,
    )
    onnx_model = onnx.helper.make_model(proto, opset_imports=[onnx.helper.make_opsetid("", int(opset))],
                                        producer_name="glassnet")
    onnx_model.ir_version = min(onnx_model.ir_version, 10)  # readable by current onnxruntime releases
    onnx.checker.check_model(onnx_model, full_check=True)
    return onnx_model


def export_onnx(model: Model, path: str | os.PathLike[str], opset: int = DEFAULT_OPSET) -> None:
    """Write ``model`` as an ONNX file (atomically); every node's input and output shapes are checked."""
    data = to_onnx(model, opset).SerializeToString()
    atomic_write(path, lambda handle: handle.write(data))
