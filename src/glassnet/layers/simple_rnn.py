"""SimpleRNN (Elman 1990): h_t = phi(x_t kernel + h_{t-1} recurrent_kernel + bias)."""

from __future__ import annotations

from typing import Any

import numpy as np

from .._typing import Array
from ._recurrent_base import Recurrent


class SimpleRNN(Recurrent):
    """Fully connected recurrence: h_t = phi(a_t), a_t = x_t kernel + h_{t-1} recurrent_kernel + bias.

    Backward through time, with dh = dL/dh_t (from the output and from step t + 1):

        da_t = dh * phi'(a_t)  (from the cached h_t = phi(a_t));   dL/dh_{t-1} = da_t recurrent_kernel^T
        recurrent_kernel.grad = sum_t h_{t-1}^T da_t;  kernel.grad = sum_t x_t^T da_t  (one GEMM each)

    The factor recurrent_kernel^T diag(phi') applied once per step is why the gradient reaching early
    steps shrinks (or grows) geometrically: the vanishing gradient that LSTM and GRU were made for.
    Cached: h_t for t = 0..T (and the dropped h_{t-1} with recurrent dropout).

    Args:
        units: Width of h.
        activation: phi, default "tanh".
        use_bias, kernel_initializer, recurrent_initializer ("orthogonal"), bias_initializer: as Keras.
        return_sequences: Return every h_t (batch, T, units) instead of h_T (batch, units).
        return_state: Also return the final state: ``[output, h_T]``.
        go_backwards: Process the sequence from its end (the output sequence is then reversed).
        dropout, recurrent_dropout: Fractions dropped from x_t and from h_{t-1} (masks fixed over time).
        seed: Seed of the dropout masks.

    Weights: kernel (features, units), recurrent_kernel (units, units), bias (units,). PyTorch's
    ``nn.RNN``: weight_ih = kernel^T, weight_hh = recurrent_kernel^T, bias_ih + bias_hh = bias.
    """

    def _steps(self, xw: Array, initial: list[Array], mt: Array | None, rec_mask: Array | None,
               training: bool) -> tuple[Array, list[Array], dict[str, Any]]:
        steps, batch, u = xw.shape
        recurrent = self.recurrent_kernel.value
        h_all = np.empty((steps + 1, batch, u), xw.dtype)
        h_all[0] = initial[0]
        h_in = h_all[:-1] if rec_mask is None else np.empty((steps, batch, u), xw.dtype)
        for t in range(steps):
            h_prev = h_all[t]
            if rec_mask is not None:
                h_prev = np.multiply(h_prev, rec_mask, out=h_in[t])
            h = np.matmul(h_prev, recurrent, out=h_all[t + 1])
            h += xw[t]
            self._activate(h, self.activation)
            if mt is not None:
                np.copyto(h, h_all[t], where=~mt[t])
        cache = {"h_all": h_all, "h_in": h_in} if training else {}
        return h_all, [h_all[steps]], cache

    def _steps_backward(self, grad_seq: Array | None, grad_finals: list[Array | None], keep: Array | None
                        ) -> tuple[list[tuple[slice, Array]], list[Array]]:
        h_all, h_in, mt, rec_mask = self.read_cache("h_all", "h_in", "mt", "rec_mask")
        steps, batch, u = h_in.shape
        recurrent_t = self.recurrent_kernel.value.T
        grad_a = np.empty((steps, batch, u), h_all.dtype)
        dh = np.zeros((batch, u), h_all.dtype) if grad_finals[0] is None else grad_finals[0].copy()
        for t in range(steps - 1, -1, -1):
            if grad_seq is not None:
                dh += grad_seq[t]
            if keep is not None:
                keep[t] = dh
            dh, dh_carry = self._split_masked(dh, None if mt is None else mt[t])
            da = self.activation.backward_into(dh, h_all[t + 1], grad_a[t])  # masked rows have dh = 0
            if da is not grad_a[t]:
                grad_a[t] = da
            dh = np.matmul(grad_a[t], recurrent_t, out=dh if dh_carry is None else None)
            if rec_mask is not None:
                dh *= rec_mask
            if dh_carry is not None:
                dh += dh_carry
        np.matmul(h_in.reshape(steps * batch, u).T, grad_a.reshape(steps * batch, u), out=self.recurrent_kernel.grad)
        return [(slice(None), grad_a)], [dh]
