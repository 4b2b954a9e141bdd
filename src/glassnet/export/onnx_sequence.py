"""ONNX converters of the reshaping, embedding and position layers and of TimeDistributed.

Shapes without the batch axis are static in glassnet, so every Reshape writes them out with -1 for the
batch axis alone:

    Flatten        (B, d1, ..., dk) -> Reshape [-1, d1 ... dk]
    Reshape        (B, ...) -> Reshape [-1, *output_shape]        (the layer's resolved target shape)
    Permute(dims)  Transpose perm = [0, *dims]                     (dims count from 1, as in Keras)
    RepeatVector   (B, F) -> Unsqueeze axis 1 -> Expand [1, n, F] -> (B, n, F)
    Embedding      y = Gather(embeddings, ids, axis 0)             (ids int64)
    PositionalEmbedding            y = x + embeddings[:T]          (T = the model's sequence length)
    SinusoidalPositionalEncoding   y = x + PE[:T]                  (the table as a constant)
    TimeDistributed(layer)         (B, T, ...) -> (B T, ...) -> layer -> (B, T, ...)
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .. import layers
from ..layers.positional import sinusoidal_table
from .onnx import Graph, convert, converter


@converter(layers.Flatten)
def _flatten(layer: Any, graph: Graph, inputs: list[str]) -> str:
    return graph.reshape(inputs[0], [-1, int(np.prod(layer.input_shape))], layer.name)


@converter(layers.Reshape)
def _reshape(layer: Any, graph: Graph, inputs: list[str]) -> str:
    return graph.reshape(inputs[0], [-1, *layer.output_shape], layer.name)


@converter(layers.Permute)
def _permute(layer: Any, graph: Graph, inputs: list[str]) -> str:
    return graph.transpose(inputs[0], (0, *layer.dims), layer.name)


@converter(layers.RepeatVector)
def _repeat_vector(layer: Any, graph: Graph, inputs: list[str]) -> str:
    x = graph.unsqueeze(inputs[0], [1], f"{layer.name}/unsqueeze")
    return graph.op("Expand", [x, graph.ints([1, layer.n, layer.input_shape[-1]], f"{layer.name}/shape")], layer.name)


@converter(layers.Embedding)
def _embedding(layer: Any, graph: Graph, inputs: list[str]) -> str:
    """y = embeddings[x]: a Gather on axis 0 (ids outside [0, input_dim) are an onnxruntime error)."""
    table = graph.const(layer.embeddings.value, f"{layer.name}/embeddings")
    return graph.op("Gather", [table, inputs[0]], layer.name, axis=0)


@converter(layers.PositionalEmbedding)
def _positional_embedding(layer: Any, graph: Graph, inputs: list[str]) -> str:
    t = int(layer.input_shape[0])
    return graph.op("Add", [inputs[0], graph.const(layer.embeddings.value[:t], f"{layer.name}/positions")],
                    layer.name)


@converter(layers.SinusoidalPositionalEncoding)
def _sinusoidal(layer: Any, graph: Graph, inputs: list[str]) -> str:
    t, width = (int(s) for s in layer.input_shape)
    table = sinusoidal_table(t, width, layer.max_wavelength, graph.dtype)  # as forward makes it: float64, then cast
    return graph.op("Add", [inputs[0], graph.const(table, f"{layer.name}/positions")], layer.name)


@converter(layers.TimeDistributed)
def _time_distributed(layer: Any, graph: Graph, inputs: list[str]) -> str:
    steps, inner_shape = int(layer.input_shape[0]), tuple(layer.input_shape[1:])
    x = graph.reshape(inputs[0], [-1, *inner_shape], f"{layer.name}/merge_time")
    y = convert(layer.layer, graph, [x])
    out_shape = tuple(layer.layer.output_shape)
    return graph.reshape(y, [-1, steps, *out_shape], layer.name)
