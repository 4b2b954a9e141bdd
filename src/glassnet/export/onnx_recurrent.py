"""ONNX converters of SimpleRNN, LSTM and GRU (ONNX's RNN, LSTM and GRU ops) and of Bidirectional.

ONNX's recurrent ops are time-major with a direction axis: X (T, B, F), W (dirs, G H, F),
R (dirs, G H, H), B (dirs, 2 G H) = [input biases W_b, recurrent biases R_b], and outputs
Y (T, dirs, B, H), Y_h (dirs, B, H) (and Y_c for LSTM). glassnet's weights multiply from the right,
x_t kernel, so ONNX's W is the transposed kernel with the gate blocks (each H columns) reordered:

    SimpleRNN  h_t = f(x_t W^T + h R^T + W_b + R_b)
               W = kernel^T,  R = recurrent_kernel^T,  W_b = bias,  R_b = 0
    LSTM       Keras/glassnet gate order i, f, c, o;  ONNX order i, o, f, c  -> blocks [0, 3, 1, 2]
               W = kernel[:, blocks]^T, R = recurrent_kernel[:, blocks]^T, W_b = bias[blocks], R_b = 0
               activations f, g, h = recurrent_activation, activation, activation
    GRU        order z, r, h in both (no reordering)
               reset_after=True:  linear_before_reset=1, W_b = bias[0], R_b = bias[1]
                   (ONNX: h~ = g(x W_h^T + r * (h R_h^T + R_bh) + W_bh), glassnet: phi(xh + r * rh))
               reset_after=False: linear_before_reset=0, W_b = bias, R_b = 0
                   (ONNX: h~ = g(x W_h^T + (r * h) R_h^T + R_bh + W_bh), glassnet: phi(xh + (r h) U_h))
               both: h_t = (1 - z) * h~ + z * h_{t-1}

``go_backwards`` reverses x on the time axis (a Gather with indices T-1 .. 0) and runs the op forwards,
so the output sequence is in processing order, as glassnet returns it. Initial states (a list input
[x, h0(, c0)], as ``forward`` takes them) become initial_h / initial_c with a direction axis of 1.
Activations: tanh, sigmoid and relu have ONNX forms inside these ops; other ones are an error.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .. import layers
from ..errors import ConfigError
from .onnx import Graph, convert, converter

_RNN_ACTIVATIONS = {"tanh": "Tanh", "sigmoid": "Sigmoid", "relu": "Relu"}
_LSTM_TO_ONNX = [0, 3, 1, 2]  # Keras blocks (i, f, c, o) taken in ONNX's order (i, o, f, c)


def _onnx_activation(layer: Any, function: Any) -> str:
    name = getattr(function, "name", None)
    if name not in _RNN_ACTIVATIONS:
        raise ConfigError(f"export_onnx: layer {layer.name!r} ({type(layer).__name__}) uses the activation {name!r}, "
                          "which ONNX's recurrent ops do not offer; hint: use tanh, sigmoid or relu")
    return _RNN_ACTIVATIONS[name]


def _blocks(matrix: Any, order: list[int], units: int) -> Any:
    """The gate blocks (each ``units`` columns) of ``matrix`` (..., G units) taken in ``order``."""
    return np.concatenate([matrix[..., k * units:(k + 1) * units] for k in order], axis=-1)


def reverse_time(graph: Graph, x: str, steps: int, hint: str) -> str:
    """x[:, ::-1]: a Gather of the time axis at T-1, ..., 0."""
    return graph.op("Gather", [x, graph.ints(np.arange(steps - 1, -1, -1), f"{hint}/reversed")], hint, axis=1)


def _weights(layer: Any) -> tuple[str, Any, Any, Any, dict[str, Any]]:
    """(op type, W, R, B, attributes) in ONNX's layout, each with its direction axis of 1 (see the module)."""
    u, g = layer.units, layer.gates
    kernel, recurrent = layer.kernel.value, layer.recurrent_kernel.value
    zeros = np.zeros(g * u, dtype=kernel.dtype)
    attrs: dict[str, Any]
    if isinstance(layer, layers.LSTM):
        kernel, recurrent = _blocks(kernel, _LSTM_TO_ONNX, u), _blocks(recurrent, _LSTM_TO_ONNX, u)
        bias = _blocks(layer.bias.value, _LSTM_TO_ONNX, u) if layer.use_bias else zeros
        acts = [layer.recurrent_activation, layer.activation, layer.activation]
        op, attrs, biases = "LSTM", {}, np.concatenate([bias, zeros])
    elif isinstance(layer, layers.GRU):
        acts = [layer.recurrent_activation, layer.activation]
        op, attrs = "GRU", {"linear_before_reset": int(layer.reset_after)}
        if not layer.use_bias:
            biases = np.concatenate([zeros, zeros])
        elif layer.reset_after:
            biases = np.concatenate([layer.bias.value[0], layer.bias.value[1]])
        else:
            biases = np.concatenate([layer.bias.value, zeros])
    else:
        acts = [layer.activation]
        op, attrs = "RNN", {}
        biases = np.concatenate([layer.bias.value if layer.use_bias else zeros, zeros])
    attrs["activations"] = [_onnx_activation(layer, a) for a in acts]
    return op, kernel.T[None], recurrent.T[None], biases[None], attrs


@converter(layers.SimpleRNN, layers.LSTM, layers.GRU)
def _recurrent(layer: Any, graph: Graph, inputs: list[str]) -> Any:
    name, steps = layer.name, int(layer.input_shape[0])
    op, w, r, b, attrs = _weights(layer)
    x = reverse_time(graph, inputs[0], steps, f"{name}/go_backwards") if layer.go_backwards else inputs[0]
    args = [graph.transpose(x, (1, 0, 2), f"{name}/time_major"), graph.const(w, f"{name}/W"),
            graph.const(r, f"{name}/R"), graph.const(b, f"{name}/B"), ""]  # "": no sequence_lens
    args += [graph.unsqueeze(s, [0], f"{name}/initial_state{k}") for k, s in enumerate(inputs[1:])]
    outs = graph.ops(op, args, f"{name}/{op.lower()}", 1 + layer.n_states, hidden_size=int(layer.units),
                     direction="forward", **attrs)
    if layer.return_sequences:
        output = graph.transpose(graph.squeeze(outs[0], [1], f"{name}/sequence"), (1, 0, 2), name)
    else:
        output = graph.squeeze(outs[1], [0], name)
    if not layer.return_state:
        return output
    return [output, *(graph.squeeze(s, [0], f"{name}/state{k}") for k, s in enumerate(outs[1:]))]


@converter(layers.Bidirectional)
def _bidirectional(layer: Any, graph: Graph, inputs: list[str]) -> Any:
    """merge(forward_layer(x), backward_layer(x) re-reversed on the time axis when it returns sequences)."""
    n, name = layer.n_states, layer.name
    x, states = inputs[0], inputs[1:]
    out_f = convert(layer.forward_layer, graph, [x, *states[:n]])
    out_b = convert(layer.backward_layer, graph, [x, *states[n:]])
    y_f, states_f = (out_f[0], list(out_f[1:])) if layer.return_state else (out_f, [])
    y_b, states_b = (out_b[0], list(out_b[1:])) if layer.return_state else (out_b, [])
    if layer.return_sequences:
        y_b = reverse_time(graph, y_b, int(layer.input_shape[0]), f"{name}/backward_in_time_order")
    mode = layer.merge_mode
    if mode == "concat":
        y: Any = graph.op("Concat", [y_f, y_b], name, axis=-1)
    elif mode == "sum":
        y = graph.op("Add", [y_f, y_b], name)
    elif mode == "ave":
        y = graph.op("Mul", [graph.op("Add", [y_f, y_b], f"{name}/sum"), graph.const(0.5, f"{name}/half")], name)
    elif mode == "mul":
        y = graph.op("Mul", [y_f, y_b], name)
    else:
        y = [y_f, y_b]
    if layer.return_state:
        return [*(y if isinstance(y, list) else [y]), *states_f, *states_b]
    return y
