"""ONNX converters of the image and signal layers: Conv1D/Conv2D, Conv2DTranspose, pooling, UpSampling2D,
ZeroPadding2D and PatchEmbedding.

glassnet is channels last (N, H, W, C); ONNX's Conv, ConvTranspose, MaxPool and AveragePool are
channels first (N, C, H, W). Each converter transposes in, runs the ONNX op, and transposes out:

    NHWC -> NCHW: perm (0, 3, 1, 2)          NCHW -> NHWC: perm (0, 2, 3, 1)
    NLC  -> NCL:  perm (0, 2, 1)             (1-D layers, ONNX's 1-D form of the same ops)

Weight layouts written out:

    Conv2D           kernel (kh, kw, C/G, F)  ->  ONNX W (F, C/G, kh, kw) = kernel.transpose(3, 2, 0, 1)
    Conv1D           kernel (k, C/G, F)       ->  ONNX W (F, C/G, k)      = kernel.transpose(2, 1, 0)
    Conv2DTranspose  kernel (kh, kw, F, C)    ->  ONNX W (C, F, kh, kw)   = kernel.transpose(3, 2, 0, 1)

(groups: glassnet's filter f belongs to group f // (F/G), ONNX's too, so the filter axis needs no
reordering). Padding is always explicit: the layer's own (before, after) pads from the TF "same" rule
(``layers._conv_utils.axis_padding``), written as ONNX ``pads = [top, left, bottom, right]``, so an
odd total puts the extra zero after the data exactly as glassnet does; "causal" is (k_eff - 1, 0).

Conv2DTranspose: ONNX's full output along an axis is (n - 1) s + k_eff + output_padding, glassnet's
n s + max(k_eff - s, 0); so output_padding = max(s - k_eff, 0), and the layer's crop (before, after)
becomes ONNX ``pads``. Average pooling excludes the padding from the count (``count_include_pad=0``),
as Keras does; max pooling pads with -inf in both.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .. import layers
from ..layers import _conv_utils as cu
from .onnx import Graph, activation, converter

_TO_NCHW, _TO_NHWC = (0, 3, 1, 2), (0, 2, 3, 1)
_TO_NCL, _TO_NLC = (0, 2, 1), (0, 2, 1)


def _channels_first(graph: Graph, x: str, rank: int, hint: str) -> str:
    return graph.transpose(x, _TO_NCHW if rank == 2 else _TO_NCL, f"{hint}/to_channels_first")


def _channels_last(graph: Graph, x: str, rank: int, hint: str) -> str:
    return graph.transpose(x, _TO_NHWC if rank == 2 else _TO_NLC, f"{hint}/to_channels_last")


def _onnx_pads(pads: cu.Pads, rank: int) -> list[int]:
    """glassnet's ((top, bottom), (left, right)) (height 1 for 1-D layers) as ONNX [begins..., ends...]."""
    axes = list(pads) if rank == 2 else [pads[1]]
    return [int(a[0]) for a in axes] + [int(a[1]) for a in axes]


@converter(layers.Conv1D, layers.Conv2D)
def _conv(layer: Any, graph: Graph, inputs: list[str]) -> str:
    """activation(Conv(x, W, b)) in channels-first form, W = the kernel with its axes reversed (see above)."""
    rank, name = layer.rank, layer.name
    order = (3, 2, 0, 1) if rank == 2 else (2, 1, 0)
    args = [_channels_first(graph, inputs[0], rank, name),
            graph.const(np.ascontiguousarray(layer.kernel.value.transpose(order)), f"{name}/kernel")]
    if layer.use_bias:
        args.append(graph.const(layer.bias.value, f"{name}/bias"))
    z = graph.op("Conv", args, f"{name}/conv", kernel_shape=list(layer.kernel_size), strides=list(layer.strides),
                 dilations=list(layer.dilation_rate), group=int(layer.groups), pads=_onnx_pads(layer._pads, rank))
    return activation(graph, layer.activation, _channels_last(graph, z, rank, name), name)


@converter(layers.Conv2DTranspose)
def _conv_transpose(layer: Any, graph: Graph, inputs: list[str]) -> str:
    """ConvTranspose with output_padding = max(s - k_eff, 0) and the layer's crop as pads (see above)."""
    name = layer.name
    args = [_channels_first(graph, inputs[0], 2, name),
            graph.const(np.ascontiguousarray(layer.kernel.value.transpose(3, 2, 0, 1)), f"{name}/kernel")]
    if layer.use_bias:
        args.append(graph.const(layer.bias.value, f"{name}/bias"))
    extra = [max(s - cu.effective_kernel(k, d), 0)
             for k, s, d in zip(layer.kernel_size, layer.strides, layer.dilation_rate)]
    z = graph.op("ConvTranspose", args, f"{name}/conv_transpose", kernel_shape=list(layer.kernel_size),
                 strides=list(layer.strides), dilations=list(layer.dilation_rate), output_padding=extra,
                 pads=_onnx_pads(layer._pads, 2))
    return activation(graph, layer.activation, _channels_last(graph, z, 2, name), name)


@converter(layers.MaxPooling1D, layers.MaxPooling2D, layers.AveragePooling1D, layers.AveragePooling2D)
def _pooling(layer: Any, graph: Graph, inputs: list[str]) -> str:
    rank, name = layer.rank, layer.name
    x = _channels_first(graph, inputs[0], rank, name)
    attrs: dict[str, Any] = {"kernel_shape": list(layer.pool_size), "strides": list(layer.strides),
                             "pads": _onnx_pads(layer._pads, rank)}
    if isinstance(layer, (layers.MaxPooling1D, layers.MaxPooling2D)):
        y = graph.op("MaxPool", [x], f"{name}/pool", **attrs)
    else:
        y = graph.op("AveragePool", [x], f"{name}/pool", count_include_pad=0, **attrs)
    return _channels_last(graph, y, rank, name)


@converter(layers.GlobalAveragePooling1D, layers.GlobalAveragePooling2D, layers.GlobalMaxPooling1D,
           layers.GlobalMaxPooling2D)
def _global_pooling(layer: Any, graph: Graph, inputs: list[str]) -> str:
    """Mean or max over the spatial axes (1, 2) or the time axis (1), channels last throughout."""
    axes = [1, 2] if len(layer.input_shape) == 3 else [1]
    op = "ReduceMax" if isinstance(layer, (layers.GlobalMaxPooling1D, layers.GlobalMaxPooling2D)) else "ReduceMean"
    return graph.reduce(op, inputs[0], axes, layer.name, keepdims=layer.keepdims)


@converter(layers.UpSampling2D)
def _upsampling(layer: Any, graph: Graph, inputs: list[str]) -> str:
    """Nearest neighbour as a broadcast: (N, H, 1, W, 1, C) expanded to (N, H, sh, W, sw, C), then merged."""
    (h, w, c), (sh, sw), name = layer.input_shape, layer.size, layer.name
    x = graph.unsqueeze(inputs[0], [2, 4], f"{name}/unsqueeze")
    x = graph.op("Expand", [x, graph.ints([1, h, sh, w, sw, c], f"{name}/blocks")], f"{name}/expand")
    return graph.reshape(x, [-1, h * sh, w * sw, c], name)


@converter(layers.ZeroPadding2D)
def _zero_padding(layer: Any, graph: Graph, inputs: list[str]) -> str:
    (top, bottom), (left, right) = layer.padding
    pads = graph.ints([0, top, left, 0, 0, bottom, right, 0], f"{layer.name}/pads")
    return graph.op("Pad", [inputs[0], pads], layer.name, mode="constant")


@converter(layers.PatchEmbedding)
def _patch_embedding(layer: Any, graph: Graph, inputs: list[str]) -> str:
    """patches(x) = x (B, gh, ph, gw, pw, C) transposed to (B, gh, gw, ph, pw, C), rows of ph pw C; then X_p K + b."""
    (h, w, c), (ph, pw), name = layer.input_shape, layer.patch_size, layer.name
    gh, gw = h // ph, w // pw
    x = graph.reshape(inputs[0], [-1, gh, ph, gw, pw, c], f"{name}/grid")
    x = graph.transpose(x, (0, 1, 3, 2, 4, 5), f"{name}/patch_major")
    x = graph.reshape(x, [-1, gh * gw, ph * pw * c], f"{name}/patches")
    kernel = layer.kernel.value.reshape(-1, layer.output_dim)
    return graph.matmul_add(x, kernel, layer.bias.value if layer.use_bias else None, name)
