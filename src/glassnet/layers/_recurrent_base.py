"""What SimpleRNN, LSTM and GRU share: arguments, weights, inputs, masks, dropout, and the BPTT frame.

A recurrent layer maps x (batch, T, features) to a hidden state h_t (batch, units) per step, computed
from x_t and h_{t-1}. Every cell here is affine in x_t, so the frame does, for the whole sequence:

    forward:   XW = X @ kernel + b_in          one GEMM over all T * batch rows (time-major)
               per step t (in the subclass's ``_steps``): one h_{t-1} @ recurrent_kernel, gates, h_t
    backward:  per step, in reverse (``_steps_backward``): dL/d(gates) kept for every t
               kernel.grad = X^T dXW,  b_in.grad = sum dXW,  dL/dX = dXW kernel^T   (GEMMs after the loop)

Arrays inside are time-major, (T, batch, ...), so step t is one contiguous block.

Inputs: ``forward(x)``, or ``forward([x, h0])`` / ``forward([x, h0, c0])`` (LSTM) to start from given
states instead of zeros. With initial states, ``backward`` returns ``[dL/dx, dL/dh0(, dL/dc0)]``. This is
what ``layer(x, initial_state=[h0, c0])`` in a graph model is wired to (an encoder's final states
starting a decoder).

Outputs: h_T (batch, units), or every h_t (batch, T, units) with ``return_sequences``; with
``return_state`` a list [output, h_T] (or [output, h_T, c_T] for LSTM), whose ``backward`` takes a list
of gradients, ``None`` for outputs the loss does not use. ``go_backwards`` processes x_T first and
returns the sequence in processing order (reversed), as Keras does.

Masking (``mask`` of shape (batch, T), True = real step, as an ``Embedding(mask_zero=True)`` makes):
at a masked step the states are carried unchanged, h_t = h_{t-1} (and c_t = c_{t-1}), so a masked
step's output is the previous output, and the final state is the state after the last real step. Its
backward is the same selection: dL/dh_{t-1} receives dL/dh_t where the step is masked.

Dropout (Keras's variational dropout, Gal & Ghahramani 2016): one mask per batch on the inputs
(``dropout``, shape (batch, features)) and one on h_{t-1} where it enters the recurrent product
(``recurrent_dropout``, (batch, units)), each the same at every time step; inverted (kept units are
scaled by 1 / (1 - rate)) and seeded (``seed``, or ``fit(seed=...)`` through ``reseed``).

``state_grad_norms`` (after a backward with ``record_state_grads = True``): ||dL/dh_t|| averaged over
the batch, for t = 1..T in processing order, a float64 array of length T: the "gradient through time"
of the glass box. The backward loop has every dL/dh_t in hand; with the flag on it keeps them
(T, batch, units) and reduces them with one einsum after the loop. The flag is off by default (then
``state_grad_norms`` is None and the loop keeps nothing); ``GradientMonitor`` turns it on for the
batches of its monitored epochs only.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .. import activations, backend, initializers, regularizers
from .._registry import serialize
from .._typing import Array
from ..errors import ConfigError, ShapeError
from .base import Layer
from .core import _positive_int, _resolve


def _own(method: Any) -> Any:
    """Mark ``build``/``forward`` as doing their own input handling (lists of inputs, a mask)."""
    method._glassnet_wrapped = True
    return method


def _rate(layer: str, name: str, value: Any) -> float:
    try:
        rate = float(value)
    except (TypeError, ValueError):
        raise ConfigError(f"{layer}: {name} must be a number in [0, 1), got {value!r}") from None
    if not 0.0 <= rate < 1.0:
        raise ConfigError(f"{layer}: {name} must be in [0, 1), got {value!r}; hint: it is the fraction dropped")
    return rate


class Recurrent(Layer):
    """Base class of the recurrent layers (see the module docstring for the frame they share).

    Subclasses set ``gates`` (G), ``n_states`` (1, or 2 for LSTM), and implement ``_steps`` and
    ``_steps_backward``; optionally ``_make_bias`` and ``_bias_views``.
    """

    input_rank = 2  # (timesteps, features) per sample

    gates = 1
    n_states = 1
    supports_masking = True
    accepts_input_list = True  # in a graph: x, or [x, h0(, c0)] (what ``initial_state=`` makes)
    takes_mask = True  # Sequential passes ``mask=`` to forward (see layers.masking)
    zero_output_for_mask = False  # Bidirectional sets True: a masked step then outputs zeros (as Keras)

    def __init__(self, units: int, activation: Any = "tanh", use_bias: bool = True,
                 kernel_initializer: Any = "glorot_uniform", recurrent_initializer: Any = "orthogonal",
                 bias_initializer: Any = "zeros", kernel_regularizer: Any = None,
                 recurrent_regularizer: Any = None, bias_regularizer: Any = None,
                 return_sequences: bool = False, return_state: bool = False, go_backwards: bool = False,
                 dropout: float = 0.0, recurrent_dropout: float = 0.0, seed: int | None = None,
                 name: str | None = None, trainable: bool = True) -> None:
        super().__init__(name=name, trainable=trainable)
        kind = type(self).__name__
        self.units = _positive_int("units", units, kind)
        where = f"{kind}({units})"
        self.activation = _resolve(activations.get, activation, where, "activation")
        self.use_bias = bool(use_bias)
        self.kernel_initializer = _resolve(initializers.get, kernel_initializer, where, "kernel_initializer")
        self.recurrent_initializer = _resolve(initializers.get, recurrent_initializer, where,
                                              "recurrent_initializer")
        self.bias_initializer = _resolve(initializers.get, bias_initializer, where, "bias_initializer")
        self.kernel_regularizer = _resolve(regularizers.get, kernel_regularizer, where, "kernel_regularizer")
        self.recurrent_regularizer = _resolve(regularizers.get, recurrent_regularizer, where,
                                              "recurrent_regularizer")
        self.bias_regularizer = _resolve(regularizers.get, bias_regularizer, where, "bias_regularizer")
        self.return_sequences = bool(return_sequences)
        self.return_state = bool(return_state)
        self.go_backwards = bool(go_backwards)
        self.dropout = _rate(kind, "dropout", dropout)
        self.recurrent_dropout = _rate(kind, "recurrent_dropout", recurrent_dropout)
        self.seed = seed if isinstance(seed, (int, np.integer)) else None
        self.rng = backend.make_generator(seed)
        self.state_grad_norms: Array | None = None
        self.record_state_grads = False  # set by GradientMonitor on monitored epochs

    def __call__(self, x: Any, training: bool = False, initial_state: Any = None) -> Any:
        """``forward`` on arrays, a graph node on symbolic tensors; ``initial_state=[h0(, c0)]`` starts the
        recurrence from those states (each (batch, units)) instead of zeros: a call on [x, h0(, c0)]."""
        if initial_state is not None:
            states = list(initial_state) if isinstance(initial_state, (list, tuple)) else [initial_state]
            if len(states) != self.n_states:
                expected = "[h0, c0]" if self.n_states == 2 else "[h0]"
                raise ShapeError(f"layer {self.name!r} ({type(self).__name__}): initial_state must be {expected}, "
                                 f"got {len(states)} state(s); hint: pass an encoder's final states, e.g. "
                                 "_, h, c = LSTM(units, return_state=True)(x)")
            x = [x, *states]
        return super().__call__(x, training=training)

    def _split_shapes(self, input_shape: Any) -> tuple[tuple[int, ...], list[tuple[int, ...]]]:
        """(x's shape, the states' shapes) from one shape or the list [x, h0(, c0)]."""
        if isinstance(input_shape, list) and input_shape and isinstance(input_shape[0], (list, tuple)):
            shapes = [tuple(int(v) for v in s) for s in input_shape]
            if len(shapes) != 1 + self.n_states or any(s != (self.units,) for s in shapes[1:]):
                expected = "[x, h0, c0]" if self.n_states == 2 else "[x, h0]"
                raise ShapeError(f"layer {self.name!r} ({type(self).__name__}) takes x or {expected} with states of "
                                 f"shape (batch, {self.units}), got inputs of shapes {shapes} (batch axis omitted)")
            return shapes[0], shapes[1:]
        return tuple(int(v) for v in input_shape), []

    # -- building ---------------------------------------------------------------------------------
    @_own
    def build(self, input_shape: Any) -> None:
        shape, states = self._split_shapes(input_shape)
        if len(shape) != 2:
            raise ShapeError(f"layer {self.name!r} ({type(self).__name__}) takes inputs (batch, timesteps, "
                             f"features), got input shape (batch, {', '.join(map(str, shape))}); hint: add a "
                             "feature axis with x[..., None], or an Embedding before it for token ids")
        features, g = shape[1], self.gates * self.units
        self.kernel = self.add_parameter("kernel", self.kernel_initializer((features, g), self.dtype),
                                         regularizer=self.kernel_regularizer)
        recurrent = self.recurrent_initializer((self.units, g), self.dtype)
        self.recurrent_kernel = self.add_parameter("recurrent_kernel", recurrent,
                                                   regularizer=self.recurrent_regularizer)
        if self.use_bias:
            self.bias = self.add_parameter("bias", self._make_bias(), regularizer=self.bias_regularizer)
        self.input_shape = [shape, *states] if states else shape  # type: ignore[assignment]
        self.output_shape = self.compute_output_shape(shape)
        self.built = True

    def _make_bias(self) -> Array:
        return self.bias_initializer((self.gates * self.units,), self.dtype)

    def _bias_views(self) -> tuple[Any, Any, Any, Any]:
        """(input bias, its grad, recurrent bias, its grad); the recurrent pair is None except in GRU."""
        if not self.use_bias:
            return None, None, None, None
        return self.bias.value, self.bias.grad, None, None

    def _input_projection(self, dtype: Any) -> tuple[Array, Array | None]:
        """(kernel, input bias) for XW = X kernel + b_in; LSTM's fused path passes pre-scaled copies."""
        return self.kernel.value, self._bias_views()[0]

    def _project(self, x2: Array, kernel: Array, b_in: Array | None, steps: int, batch: int) -> Array:
        """XW = X kernel + b_in as one GEMM over all T * batch rows, time-major (T, batch, G units);
        LSTM lays it out gate-major instead (see ``LSTM._project``)."""
        xw = np.matmul(x2, kernel).reshape(steps, batch, -1)
        if b_in is not None:
            xw += b_in
        return xw

    def compute_output_shape(self, input_shape: Any) -> Any:
        steps = self._split_shapes(input_shape)[0][0]
        out = (steps, self.units) if self.return_sequences else (self.units,)
        if self.return_state:
            return [out] + [(self.units,)] * self.n_states
        return out

    def compute_mask(self, x: Any, mask: Array | None) -> Array | None:
        """The output keeps the time axis (and so the mask) only with ``return_sequences``."""
        if mask is None or not self.return_sequences:
            return None
        return mask[:, ::-1] if self.go_backwards else mask

    def reseed(self, rng: np.random.Generator) -> None:
        self.rng = rng

    # -- inputs -----------------------------------------------------------------------------------
    def _split_inputs(self, inputs: Any) -> tuple[Array, list[Array] | None]:
        kind = type(self).__name__
        if isinstance(inputs, (list, tuple)):
            if len(inputs) != 1 + self.n_states:
                expected = "[x, h0, c0]" if self.n_states == 2 else "[x, h0]"
                raise ShapeError(f"layer {self.name!r} ({kind}) takes x or {expected}, got a list of "
                                 f"{len(inputs)} arrays")
            x = np.asarray(inputs[0])
            states: list[Array] | None = [np.asarray(s) for s in inputs[1:]]
        else:
            x, states = np.asarray(inputs), None
        if x.ndim != 3:
            raise ShapeError(f"layer {self.name!r} ({kind}) takes inputs (batch, timesteps, features), got shape "
                             f"{x.shape}; hint: add a feature axis with x[..., None], or an Embedding first")
        if self.built and x.shape[2] != self.kernel.shape[0]:
            raise ShapeError(f"layer {self.name!r} ({kind}) was built for {self.kernel.shape[0]} features, got "
                             f"input {x.shape}; hint: a built layer keeps its input width (timesteps may vary)")
        for k, s in enumerate(states or []):
            if s.shape != (x.shape[0], self.units):
                raise ShapeError(f"layer {self.name!r} ({kind}): initial state {k} must have shape "
                                 f"({x.shape[0]}, {self.units}) (batch, units), got {s.shape}")
        return x, states

    def _check_mask(self, mask: Any, x: Array) -> Array | None:
        if mask is None:
            return None
        mask = np.asarray(mask, dtype=bool)
        if mask.shape != x.shape[:2]:
            raise ShapeError(f"layer {self.name!r} ({type(self).__name__}): mask must have shape (batch, "
                             f"timesteps) = {x.shape[:2]}, got {mask.shape}")
        return mask

    def _dropout_mask(self, shape: tuple[int, int], rate: float, dtype: Any) -> Array:
        keep = self.rng.random(shape) >= rate
        return np.multiply(keep, dtype.type(1.0 / (1.0 - rate)), dtype=dtype)

    # -- forward ----------------------------------------------------------------------------------
    @_own
    def forward(self, inputs: Any, training: bool = False, mask: Any = None) -> Any:
        """h_t for each step (see the module docstring); ``mask`` (batch, T) marks the real steps."""
        x, states = self._split_inputs(inputs)
        if not self.built:
            self.build(x.shape[1:])
        if not training and self.cache:
            self.cache = {}
        mask = self._check_mask(mask, x)
        dtype = np.result_type(x.dtype, self.kernel.dtype)
        batch, steps, features = x.shape
        xt = x.transpose(1, 0, 2)
        if self.go_backwards:
            xt = xt[::-1]
        in_mask = rec_mask = None
        if training and self.dropout:
            in_mask = self._dropout_mask((batch, features), self.dropout, dtype)
            xt = np.multiply(xt, in_mask)
        xt = np.ascontiguousarray(xt, dtype=dtype)
        kernel, b_in = self._input_projection(dtype)
        xw = self._project(xt.reshape(steps * batch, features), kernel, b_in, steps, batch)
        if training and self.recurrent_dropout:
            rec_mask = self._dropout_mask((batch, self.units), self.recurrent_dropout, dtype)
        mt = None
        if mask is not None:
            mt = mask.T[::-1] if self.go_backwards else mask.T
            mt = np.ascontiguousarray(mt)[:, :, None]  # (T, batch, 1): broadcasts over units
        initial = states if states is not None else [np.zeros((batch, self.units), dtype) for _ in
                                                     range(self.n_states)]
        initial = [np.asarray(s, dtype=dtype) for s in initial]
        h_all, finals, cache = self._steps(xw, initial, mt, rec_mask, training)
        outputs = h_all[1:]
        if self.zero_output_for_mask and mt is not None:
            outputs = outputs * mt
        y = outputs.transpose(1, 0, 2) if self.return_sequences else finals[0]
        if training:
            self.cache = {**cache, "xt": xt, "in_mask": in_mask, "rec_mask": rec_mask, "mt": mt,
                          "n_inputs": 1 if states is None else 1 + self.n_states}
        if self.return_state:
            return [y, *finals]
        return y

    # -- backward ---------------------------------------------------------------------------------
    def backward(self, grad_output: Any) -> Any:  # type: ignore[override]
        """dL/dx (and dL/d(initial states) when they were inputs); fills every parameter's grad."""
        xt, in_mask, mt = self.read_cache("xt", "in_mask", "mt")
        n_inputs = self.cache["n_inputs"]
        steps, batch, features = xt.shape
        grads = list(grad_output) if self.return_state else [grad_output, *([None] * self.n_states)]
        if len(grads) != 1 + self.n_states:
            raise ShapeError(f"layer {self.name!r} ({type(self).__name__}) returns {1 + self.n_states} outputs "
                             f"with return_state=True, so backward takes as many gradients, got {len(grads)}")
        dtype = xt.dtype
        grad_y, grad_finals = grads[0], [None if g is None else np.asarray(g, dtype=dtype) for g in grads[1:]]
        grad_seq = None
        if grad_y is not None:
            grad_y = np.asarray(grad_y, dtype=dtype)
            if self.return_sequences:
                grad_seq = grad_y.transpose(1, 0, 2)  # a view: (T, batch, units)
                if self.zero_output_for_mask and mt is not None:
                    grad_seq = grad_seq * mt
            else:
                grad_finals[0] = grad_y if grad_finals[0] is None else grad_finals[0] + grad_y
        keep = np.empty((steps, batch, self.units), dtype) if self.record_state_grads else None
        blocks, grad_initial = self._steps_backward(grad_seq, grad_finals, keep)
        self.state_grad_norms = None
        if keep is not None:  # ||dL/dh_t|| per step, batch mean: one reduction over the kept dL/dh_t
            self.state_grad_norms = np.sqrt(np.einsum("tbu,tbu->tb", keep, keep, dtype=np.float64)).mean(axis=1)
        x2 = xt.reshape(steps * batch, features)
        _, b_grad, _, _ = self._bias_views()
        want_x = self.input_grad_required or n_inputs > 1
        grad_x = None
        for columns, block in blocks:
            block2 = block.reshape(steps * batch, -1)
            np.matmul(x2.T, block2, out=self.kernel.grad[:, columns])
            if b_grad is not None:
                np.add.reduce(block2, axis=0, out=b_grad[columns])
            if want_x:
                part = block2 @ self.kernel.value[:, columns].T
                grad_x = part if grad_x is None else np.add(grad_x, part, out=grad_x)
        if grad_x is not None:
            if in_mask is not None:
                grad_x = (grad_x.reshape(steps, batch, features) * in_mask).reshape(steps * batch, features)
            grad_x = grad_x.reshape(steps, batch, features)
            if self.go_backwards:
                grad_x = grad_x[::-1]
            grad_x = grad_x.transpose(1, 0, 2)
            if not self.input_grad_required and n_inputs == 1:
                grad_x = None
        if n_inputs == 1:
            return grad_x
        return [grad_x, *grad_initial]

    @staticmethod
    def _split_masked(grad: Array, m: Array | None) -> tuple[Array, Array | None]:
        """Masked step: h_t = m h~_t + (1 - m) h_{t-1}, so dL/dh~_t = m g and dL/dh_{t-1} gets (1 - m) g."""
        if m is None:
            return grad, None
        return grad * m, grad * ~m

    def _activate(self, block: Array, activation: Any) -> None:
        """activation(block) written into ``block`` (a view into the gate buffer)."""
        out = activation.forward(block, inplace=True)
        if out is not block:
            block[...] = out

    def _derivative(self, grad: Array, a: Array, activation: Any) -> None:
        """grad *= da/dz, with the derivative from the activation output a (into ``grad``, a view)."""
        grad[...] = activation.backward(grad, a)

    # -- subclass hooks ---------------------------------------------------------------------------
    def _steps(self, xw: Array, initial: list[Array], mt: Array | None, rec_mask: Array | None,
               training: bool) -> tuple[Array, list[Array], dict[str, Any]]:
        """Run the recurrence: (H of shape (T + 1, batch, units) with H[0] = h0, final states, cache)."""
        raise NotImplementedError

    def _steps_backward(self, grad_seq: Array | None, grad_finals: list[Array | None], keep: Array | None
                        ) -> tuple[list[tuple[slice, Array]], list[Array]]:
        """BPTT: ([(kernel columns, dL/dXW block (T, batch, width))], dL/d(initial states)); fills
        recurrent_kernel.grad (and the recurrent bias of GRU), and ``keep[t]`` = dL/dh_t when given."""
        raise NotImplementedError

    # -- serialization ----------------------------------------------------------------------------
    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "units": self.units,
            "activation": serialize(self.activation),
            "use_bias": self.use_bias,
            "kernel_initializer": serialize(self.kernel_initializer),
            "recurrent_initializer": serialize(self.recurrent_initializer),
            "bias_initializer": serialize(self.bias_initializer),
            "kernel_regularizer": serialize(self.kernel_regularizer),
            "recurrent_regularizer": serialize(self.recurrent_regularizer),
            "bias_regularizer": serialize(self.bias_regularizer),
            "return_sequences": self.return_sequences,
            "return_state": self.return_state,
            "go_backwards": self.go_backwards,
            "dropout": self.dropout,
            "recurrent_dropout": self.recurrent_dropout,
            "seed": self.seed,
        }


def sigmoid_inplace(z: Array) -> Array:
    """z <- sigmoid(z) = (1 + tanh(z / 2)) / 2: one tanh (vectorized in NumPy) instead of exp and a division."""
    half = z.dtype.type(0.5)
    np.multiply(z, half, out=z)
    np.tanh(z, out=z)
    np.multiply(z, half, out=z)
    return np.add(z, half, out=z)


def gate_derivative(a: Array, c0: Array, c1: Array, out: Array) -> Array:
    """da/dz from the activated gates a, written into ``out``: c0 + a (c1 - a) per column.

    With c0 = 0, c1 = 1 this is sigmoid's a (1 - a); with c0 = 1, c1 = 0 tanh's 1 - a^2, so a block
    holding both kinds of gates takes one pass.
    """
    np.subtract(c1, a, out=out)
    np.multiply(out, a, out=out)
    return np.add(out, c0, out=out)
