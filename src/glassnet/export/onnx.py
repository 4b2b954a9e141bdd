"""ONNX export: a glassnet model as an ONNX graph in inference mode (``gn.export_onnx``).

Each layer class has a converter, a function ``(layer, graph, input names) -> output name(s)`` that
adds ONNX nodes and constant initializers; ``@converter(LayerClass)`` registers one (subclasses use
the nearest registered base). This module holds the registry, the graph writer and the dense, merge
and normalization converters; the other families have theirs in ``onnx_spatial`` (convolution,
pooling, upsampling, patches), ``onnx_sequence`` (reshaping, embeddings, positions, wrappers),
``onnx_recurrent`` (SimpleRNN/LSTM/GRU as ONNX's RNN/LSTM/GRU ops) and ``onnx_attention``
(MultiHeadAttention, the Transformer blocks). A layer that cannot be exported is listed in
``UNSUPPORTED`` with the reason (``cannot_export``), which the error repeats.

Inference semantics: Dropout and GaussianNoise are the identity, BatchNormalization uses its moving
statistics (folded into one scale and shift), Sampling returns z_mean; the batch axis is symbolic,
every other axis has the model's static size. A float64 model exports as valid ONNX, but
onnxruntime's CPU kernels for Conv and the recurrent ops are float32 only. Needs the extra
``glassnet[onnx]`` (``onnx``, and ``onnxruntime`` to run the file).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import numpy as np

from .. import layers
from .._files import atomic_write
from ..errors import ConfigError, MissingDependencyError
from ..models import GAN, VAE, Functional, Model, Sequential

Converter = Callable[[Any, "Graph", list[str]], Any]  # returns one output name, or a list of them
CONVERTERS: dict[type, Converter] = {}
UNSUPPORTED: dict[type, str] = {}  # layer class -> why it cannot be exported (the error says so)
DEFAULT_OPSET = 17
MIN_OPSET = 13  # Squeeze/Unsqueeze with axes as inputs, Softmax on one axis


def converter(*classes: type) -> Callable[[Converter], Converter]:
    """Register ``fn`` as the ONNX converter of ``classes`` (subclasses use the nearest registered base)."""

    def register(fn: Converter) -> Converter:
        for cls in classes:
            CONVERTERS[cls] = fn
        return fn

    return register


def cannot_export(cls: type, reason: str) -> None:
    """Record that ``cls`` has no ONNX form and why (``export_onnx`` raises a ConfigError with ``reason``)."""
    UNSUPPORTED[cls] = reason


def find_converter(cls: type) -> Converter | None:
    """The converter registered for ``cls`` or its nearest base class, or None (also when the nearest
    entry in the class hierarchy is an ``UNSUPPORTED`` one)."""
    for base in cls.__mro__:
        if base in UNSUPPORTED:
            return None
        if base in CONVERTERS:
            return CONVERTERS[base]
    return None


class Graph:
    """The ONNX graph being written: nodes, constant initializers, unique value names."""

    def __init__(self, onnx: Any, dtype: np.dtype[Any], opset: int = DEFAULT_OPSET) -> None:
        self.onnx = onnx
        self.dtype = dtype
        self.opset = int(opset)
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

    def ops(self, op_type: str, inputs: list[str], hint: str, n_outputs: int, **attrs: Any) -> list[str]:
        """Add one node with ``n_outputs`` outputs; returns their names."""
        outs = [self.name(f"{hint}/out{k}") for k in range(n_outputs)]
        self.nodes.append(self.onnx.helper.make_node(op_type, inputs, outs, name=self.name(f"{hint}/{op_type}"),
                                                     **attrs))
        return outs

    def ints(self, values: Any, hint: str) -> str:
        """An int64 constant (shapes, axes, pads)."""
        return self.const(np.asarray(values, dtype=np.int64), hint, dtype=np.int64)

    def reshape(self, x: str, shape: Any, hint: str) -> str:
        """x reshaped to ``shape`` (-1 allowed once, e.g. for the batch axis)."""
        return self.op("Reshape", [x, self.ints(shape, f"{hint}/shape")], hint)

    def transpose(self, x: str, perm: Any, hint: str) -> str:
        return self.op("Transpose", [x], hint, perm=[int(p) for p in perm])

    def squeeze(self, x: str, axes: Any, hint: str) -> str:
        return self.op("Squeeze", [x, self.ints(list(axes), f"{hint}/axes")], hint)

    def unsqueeze(self, x: str, axes: Any, hint: str) -> str:
        return self.op("Unsqueeze", [x, self.ints(list(axes), f"{hint}/axes")], hint)

    def reduce(self, op_type: str, x: str, axes: Any, hint: str, keepdims: bool = False) -> str:
        """ReduceMean/ReduceMax over ``axes`` (an attribute before opset 18, an input from 18 on)."""
        axes = [int(a) for a in axes]
        if self.opset >= 18:
            return self.op(op_type, [x, self.ints(axes, f"{hint}/axes")], hint, keepdims=int(keepdims))
        return self.op(op_type, [x], hint, axes=axes, keepdims=int(keepdims))

    def matmul_add(self, x: str, kernel: Any, bias: Any, hint: str) -> str:
        """x @ kernel (+ bias): one MatMul over any leading axes, then a broadcast Add."""
        z = self.op("MatMul", [x, self.const(kernel, f"{hint}/kernel")], f"{hint}/matmul")
        if bias is not None:
            z = self.op("Add", [z, self.const(bias, f"{hint}/bias")], f"{hint}/bias_add")
        return z


def _find_converter(layer: Any) -> Converter:
    found = find_converter(type(layer))
    if found is not None:
        return found
    for cls in type(layer).__mro__:
        if cls in UNSUPPORTED:
            raise ConfigError(f"export_onnx: layer {layer.name!r} ({type(layer).__name__}) cannot be exported to "
                              f"ONNX: {UNSUPPORTED[cls]}")
    raise ConfigError(f"export_onnx: layer {layer.name!r} ({type(layer).__name__}) has no ONNX converter; hint: "
                      "register one with glassnet.export.onnx.converter(LayerClass)")


def convert(layer: Any, graph: Graph, inputs: list[str]) -> Any:
    """The output name(s) of ``layer`` applied to ``inputs`` (through its registered converter)."""
    return _find_converter(layer)(layer, graph, inputs)


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
    if name == "softplus":
        return graph.op("Softplus", [x], hint)
    if name == "swish":  # x sigmoid(x)
        return graph.op("Mul", [x, graph.op("Sigmoid", [x], f"{hint}/sigmoid")], hint)
    if name == "gelu":
        if function.approximate == "tanh":  # x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))) / 2
            cube = graph.op("Mul", [graph.op("Mul", [x, x], f"{hint}/x2"), x], f"{hint}/x3")
            inner = graph.op("Add", [x, graph.op("Mul", [cube, graph.const(0.044715, f"{hint}/c")], f"{hint}/cx3")],
                             f"{hint}/poly")
            u = graph.op("Mul", [inner, graph.const(np.sqrt(2.0 / np.pi), f"{hint}/k")], f"{hint}/u")
            phi2 = graph.op("Add", [graph.op("Tanh", [u], f"{hint}/tanh"), graph.const(1.0, f"{hint}/one")],
                            f"{hint}/phi2")
        else:  # x (1 + erf(x / sqrt 2)) / 2
            scaled = graph.op("Mul", [x, graph.const(np.sqrt(0.5), f"{hint}/k")], f"{hint}/scaled")
            phi2 = graph.op("Add", [graph.op("Erf", [scaled], f"{hint}/erf"), graph.const(1.0, f"{hint}/one")],
                            f"{hint}/phi2")
        half = graph.op("Mul", [x, graph.const(0.5, f"{hint}/half")], f"{hint}/half_x")
        return graph.op("Mul", [half, phi2], hint)
    raise ConfigError(f"export_onnx: activation {name!r} ({hint}) has no ONNX form; hint: use one of linear, relu, "
                      "sigmoid, tanh, softmax, leaky_relu, elu, selu, softplus, swish, gelu")


@converter(layers.Activation)
def _activation_layer(layer: Any, graph: Graph, inputs: list[str]) -> str:
    return activation(graph, layer.activation, inputs[0], layer.name)


@converter(layers.PReLU)
def _prelu(layer: Any, graph: Graph, inputs: list[str]) -> str:
    return graph.op("PRelu", [inputs[0], graph.const(layer.alpha.value, f"{layer.name}/alpha")], layer.name)


@converter(layers.Dropout, layers.GaussianNoise)
def _identity(layer: Any, graph: Graph, inputs: list[str]) -> str:
    return graph.op("Identity", [inputs[0]], layer.name)


@converter(layers.Dense)
def _dense(layer: Any, graph: Graph, inputs: list[str]) -> str:
    z = graph.matmul_add(inputs[0], layer.kernel.value, layer.bias.value if layer.use_bias else None, layer.name)
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
    """y = (x - mean) / sqrt(var + eps) * gamma + beta over the last axis: ONNX's LayerNormalization from
    opset 17, written out with ReduceMean before it."""
    channels, name = int(layer.input_shape[-1]), layer.name
    gamma = layer.gamma.value if layer.scale else np.ones(channels)
    beta = layer.beta.value if layer.center else np.zeros(channels)
    if graph.opset >= 17:
        return graph.op("LayerNormalization", [inputs[0], graph.const(gamma, f"{name}/gamma"),
                                               graph.const(beta, f"{name}/beta")],
                        name, axis=-1, epsilon=float(layer.epsilon))
    centred = graph.op("Sub", [inputs[0], graph.reduce("ReduceMean", inputs[0], [-1], f"{name}/mean", True)],
                       f"{name}/centred")
    var = graph.reduce("ReduceMean", graph.op("Mul", [centred, centred], f"{name}/square"), [-1], f"{name}/var", True)
    std = graph.op("Sqrt", [graph.op("Add", [var, graph.const(layer.epsilon, f"{name}/epsilon")], f"{name}/var_eps")],
                   f"{name}/std")
    y = graph.op("Mul", [graph.op("Div", [centred, std], f"{name}/normalized"), graph.const(gamma, f"{name}/gamma")],
                 f"{name}/scaled")
    return graph.op("Add", [y, graph.const(beta, f"{name}/beta")], name)


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


# -- models ----------------------------------------------------------------------------------------
def _makes_mask(layer: Any) -> bool:
    return bool(getattr(layer, "mask_zero", False))


@converter(Sequential)
def _sequential(model: Any, graph: Graph, inputs: list[str]) -> Any:
    x: Any = inputs[0]
    for k, layer in enumerate(model.layers):
        if _makes_mask(layer) and k + 1 < len(model.layers):
            raise ConfigError(f"export_onnx: layer {layer.name!r} ({type(layer).__name__}) has mask_zero=True, and "
                              "the padding mask it passes to the next layers cannot be exported to ONNX; hint: "
                              "export a model built with mask_zero=False (e.g. for inputs of one length)")
        x = convert(layer, graph, x if isinstance(x, list) else [x])
    return x


@converter(Functional)
def _functional(model: Any, graph: Graph, inputs: list[str]) -> Any:
    values: list[Any] = [*inputs, *([None] * len(model._steps))]
    for step in model._steps:
        args = [values[s] for s in step.in_slots]
        values[step.out_slot] = convert(step.layer, graph, args)
    outs = [values[s] for s in model._output_slots]
    return outs[0] if len(outs) == 1 else outs


@converter(GAN)
def _gan(model: Any, graph: Graph, inputs: list[str]) -> Any:
    """``GAN.predict(z)`` is G(z): the generator alone (the discriminator only trains it)."""
    return convert(model.generator, graph, inputs)


@converter(VAE)
def _vae(model: Any, graph: Graph, inputs: list[str]) -> Any:
    """decoder(Sampling([z_mean, z_log_var])): in inference Sampling returns z_mean (see ``_sampling``)."""
    z = convert(model.sampling, graph, convert(model.encoder, graph, inputs))
    return convert(model.decoder, graph, [z])


@converter(layers.Sampling)
def _sampling(layer: Any, graph: Graph, inputs: list[str]) -> str:
    """Inference without ``sample=True`` returns z_mean; drawing noise has no deterministic ONNX form."""
    if layer.sample:
        raise ConfigError(f"export_onnx: layer {layer.name!r} (Sampling) has sample=True, so its inference output is "
                          "random and cannot be exported; hint: export with sample=False (the output is z_mean)")
    return graph.op("Identity", [inputs[0]], layer.name)


def _integer_input(model: Any, k: int) -> bool:
    """Whether input ``k`` holds token ids: it feeds a layer with ``input_dtype = "int"`` (an Embedding)."""
    if isinstance(model, Functional):
        return any(k in step.in_slots and getattr(step.layer, "input_dtype", None) == "int" for step in model._steps)
    first = (getattr(model, "layers", None) or [None])[0]
    if isinstance(first, Model):
        return _integer_input(first, k)
    return getattr(first, "input_dtype", None) == "int"


def _input_shapes(model: Any) -> list[tuple[int, ...]]:
    if isinstance(model, Functional):
        return [tuple(inp.shape) for inp in model.inputs]
    return [tuple(model.input_shape)]


def to_onnx(model: Model, opset: int = DEFAULT_OPSET) -> Any:
    """The ``onnx.ModelProto`` of ``model`` (built), checked with ``onnx.checker`` (full check).

    Inputs are named after the model's ``Input`` layers ("input" for a Sequential), float in the model's
    dtype, or int64 where they feed an ``Embedding``; outputs are "output" (or "output_0", "output_1",
    ... for several). Only the batch axis is symbolic.
    """
    try:
        import onnx
        import onnx.numpy_helper  # noqa: F401
    except ImportError as exc:
        raise MissingDependencyError("export_onnx needs onnx; install it with: pip install 'glassnet[onnx]'") from exc
    if not model.built:
        raise ConfigError(f"export_onnx: model {model.name!r} is not built; hint: call it on data or give it an "
                          "Input first")
    if int(opset) < MIN_OPSET:
        raise ConfigError(f"export_onnx: opset must be >= {MIN_OPSET}, got {opset}; hint: the default is "
                          f"{DEFAULT_OPSET}")
    dtype = np.dtype(model.dtype)
    elem = onnx.helper.np_dtype_to_tensor_dtype(dtype)
    shapes = _input_shapes(model)
    names = [inp.name for inp in model.inputs] if isinstance(model, Functional) else ["input"]
    graph = Graph(onnx, dtype, int(opset))
    for name in names:
        graph.name(name)
    result = _find_converter(model)(model, graph, list(names))
    results = result if isinstance(result, list) else [result]
    out_shapes: list[Any] = list(model.output_shape) if isinstance(result, list) else [model.output_shape]  # type: ignore[arg-type]
    out_names = ["output"] if len(results) == 1 else [f"output_{k}" for k in range(len(results))]
    outputs = [graph.op("Identity", [r], n) for r, n in zip(results, out_names)]
    in_elems = [onnx.TensorProto.INT64 if _integer_input(model, k) else elem for k in range(len(names))]
    proto = onnx.helper.make_graph(
        graph.nodes, model.name,
        [onnx.helper.make_tensor_value_info(n, e, ["batch", *s]) for n, e, s in zip(names, in_elems, shapes)],
        [onnx.helper.make_tensor_value_info(o, elem, ["batch", *s]) for o, s in zip(outputs, out_shapes)],
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


# the other layer families register their converters on import (they import this module's helpers)
from . import onnx_attention, onnx_recurrent, onnx_sequence, onnx_spatial  # noqa: E402, F401
