"""ONNX converters of MultiHeadAttention and the Transformer blocks, as MatMul / Softmax graphs.

With H heads of key size d and value size d_v (see ``layers.attention`` for the formulas):

    Q = (x_q W_q + b_q) / sqrt(d)    W_q (E_q, H, d) used as (E_q, H d); Reshape [-1, T_q, H, d],
                                     Transpose (0, 2, 1, 3) -> (B, H, T_q, d)
    K^T                              Reshape [-1, T_k, H, d], Transpose (0, 2, 3, 1) -> (B, H, d, T_k)
    S = Q K^T                        (B, H, T_q, T_k)
    P = Softmax(Where(M, S, lowest)) * M     M (B or 1, 1, T_q, T_k), True = may attend
    O = P V -> Transpose (0, 2, 1, 3) -> Reshape [-1, T_q, H d_v];   y = O W_o + b_o

The masked softmax: a forbidden score becomes the lowest float, whose exponential is exactly 0 beside
any allowed score, and the product with M makes a row without allowed keys all zeros (softmax of a
row of equal lowest scores is uniform, times 0), as glassnet's ``masked_softmax`` does, not NaN.
The causal mask is a constant lower triangle (key j <= query i); a mask input (a graph's ``Input``
holding 0/1 or booleans, broadcastable to (B, T_q, T_k)) is cast to bool, given a head axis and
combined with it by And. Sequence lengths are the model's static ones.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .. import layers
from ..layers.attention import causal_mask
from .onnx import Graph, convert, converter


def _mask(graph: Graph, mask_input: str | None, causal: bool, t_q: int, t_k: int, hint: str) -> str | None:
    """The boolean mask (B or 1, 1, T_q, T_k) of an optional mask input and the causal triangle."""
    mask = None
    if mask_input is not None:
        mask = graph.op("Cast", [mask_input], f"{hint}/mask_bool", to=graph.onnx.TensorProto.BOOL)
        mask = graph.unsqueeze(mask, [1], f"{hint}/mask_heads")  # (B, T_q, T_k) -> (B, 1, T_q, T_k)
    if causal:
        tri = graph.const(causal_mask(t_q, t_k)[None, None], f"{hint}/causal", dtype=np.bool_)
        mask = tri if mask is None else graph.op("And", [mask, tri], f"{hint}/mask_and_causal")
    return mask


def attention(graph: Graph, mha: Any, query: str, key: str, value: str, t_q: int, t_k: int,
              mask: str | None, hint: str) -> str:
    """The nodes of ``mha.attend(query, key, value, mask)`` in inference (see the module docstring)."""
    h, d, dv = mha.num_heads, mha.key_dim, mha.value_dim

    def project(x: str, part: str, t: int, size: int, perm: tuple[int, ...]) -> str:
        kernel = getattr(mha, f"{part}_kernel").value
        bias = getattr(mha, f"{part}_bias").value.reshape(-1) if mha.use_bias else None
        y = graph.matmul_add(x, kernel.reshape(kernel.shape[0], -1), bias, f"{hint}/{part}")
        if part == "query":
            y = graph.op("Mul", [y, graph.const(1.0 / math.sqrt(d), f"{hint}/scale")], f"{hint}/query_scaled")
        return graph.transpose(graph.reshape(y, [-1, t, h, size], f"{hint}/{part}_split"), perm, f"{hint}/{part}_heads")

    q = project(query, "query", t_q, d, (0, 2, 1, 3))
    k_t = project(key, "key", t_k, d, (0, 2, 3, 1))
    v = project(value, "value", t_k, dv, (0, 2, 1, 3))
    scores = graph.op("MatMul", [q, k_t], f"{hint}/scores")
    if mask is not None:
        lowest = graph.const(np.finfo(graph.dtype).min, f"{hint}/lowest")
        scores = graph.op("Where", [mask, scores, lowest], f"{hint}/masked_scores")
    p = graph.op("Softmax", [scores], f"{hint}/softmax", axis=-1)
    if mask is not None:
        p = graph.op("Mul", [p, graph.op("Cast", [mask], f"{hint}/mask_float",
                                         to=graph.onnx.helper.np_dtype_to_tensor_dtype(graph.dtype))],
                     f"{hint}/probabilities")
    o = graph.op("MatMul", [p, v], f"{hint}/weighted_values")
    o = graph.reshape(graph.transpose(o, (0, 2, 1, 3), f"{hint}/merge_heads"), [-1, t_q, h * dv], f"{hint}/merged")
    kernel = mha.output_kernel.value
    return graph.matmul_add(o, kernel.reshape(-1, kernel.shape[-1]), mha.output_bias.value if mha.use_bias else None,
                            hint)


@converter(layers.MultiHeadAttention)
def _multi_head_attention(layer: Any, graph: Graph, inputs: list[str]) -> str:
    """Inputs [query, value(, key)(, mask)]; the mask input exists when the graph passed attention_mask."""
    xs = list(inputs)
    mask_input = xs.pop() if layer.mask_input else None
    query, value = xs[0], xs[1]
    key = xs[2] if len(xs) == 3 else value
    shapes = layer.input_shape
    t_q, t_k = int(shapes[0][0]), int(shapes[1][0])
    mask = _mask(graph, mask_input, layer.use_causal_mask, t_q, t_k, layer.name)
    return attention(graph, layer, query, key, value, t_q, t_k, mask, layer.name)


def _residual(graph: Graph, block: Any, x: str, branch: Any, norm: Any, hint: str) -> str:
    """pre-LN x + F(LN(x)), or post-LN LN(x + F(x)) (residual dropout is the identity in inference)."""
    if block.norm_first:
        return graph.op("Add", [x, branch(convert(norm, graph, [x]))], f"{hint}/residual")
    return convert(norm, graph, [graph.op("Add", [x, branch(x)], f"{hint}/residual")])


def _feedforward(graph: Graph, block: Any) -> Any:
    def branch(h: str) -> str:
        inner = convert(block.feedforward_intermediate_dense, graph, [h])
        return str(convert(block.feedforward_output_dense, graph, [inner]))

    return branch


@converter(layers.TransformerEncoderBlock)
def _encoder_block(layer: Any, graph: Graph, inputs: list[str]) -> str:
    name = layer.name
    x = inputs[0]
    t = int((layer.input_shape[0] if layer.mask_input else layer.input_shape)[0])
    mask = _mask(graph, inputs[1] if layer.mask_input else None, False, t, t, f"{name}/self_attention")
    mha = layer.self_attention

    def attend(h: str) -> str:
        return attention(graph, mha, h, h, h, t, t, mask, f"{name}/self_attention")

    h = _residual(graph, layer, x, attend, layer.self_attention_layer_norm, f"{name}/attention")
    return _residual(graph, layer, h, _feedforward(graph, layer), layer.feedforward_layer_norm, name)


@converter(layers.TransformerDecoderBlock)
def _decoder_block(layer: Any, graph: Graph, inputs: list[str]) -> str:
    """Causal self-attention, cross-attention on ``memory`` (for [x, memory]), feed-forward."""
    name = layer.name
    shapes = layer.input_shape if layer.has_cross_attention else [layer.input_shape]
    t = int(shapes[0][0])
    self_mask = _mask(graph, None, True, t, t, f"{name}/self_attention")

    def self_attend(h: str) -> str:
        return attention(graph, layer.self_attention, h, h, h, t, t, self_mask, f"{name}/self_attention")

    h = _residual(graph, layer, inputs[0], self_attend, layer.self_attention_layer_norm, f"{name}/self")
    if layer.has_cross_attention:
        memory, s = inputs[1], int(shapes[1][0])

        def cross_attend(q: str) -> str:
            return attention(graph, layer.cross_attention, q, memory, memory, t, s, None, f"{name}/cross_attention")

        h = _residual(graph, layer, h, cross_attend, layer.cross_attention_layer_norm, f"{name}/cross")
    return _residual(graph, layer, h, _feedforward(graph, layer), layer.feedforward_layer_norm, name)
