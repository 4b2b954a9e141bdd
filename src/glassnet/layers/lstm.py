"""LSTM (Hochreiter & Schmidhuber 1997, with the forget gate of Gers et al. 2000), Keras 3 layout."""

from __future__ import annotations

from typing import Any

import numpy as np

from .. import activations
from .._registry import serialize
from .._typing import Array
from ._recurrent_base import Recurrent
from .core import _resolve


class LSTM(Recurrent):
    """Long short-term memory: a cell state c_t that gates add to and forget from.

    With sigma = recurrent_activation (sigmoid), phi = activation (tanh), and the kernel columns in
    Keras's gate order i, f, c, o (each ``units`` wide):

        z_t = x_t kernel + h_{t-1} recurrent_kernel + bias                  (batch, 4 units)
        i = sigma(z_i),  f = sigma(z_f),  g = phi(z_c),  o = sigma(z_o)
        c_t = f * c_{t-1} + i * g
        h_t = o * phi(c_t)

    Backward through time, with dh = dL/dh_t (from the output and from step t + 1) and dc = dL/dc_t
    (from step t + 1):

        dc += dh * o * phi'(c_t);      do = dh * phi(c_t)
        di = dc * g,  df = dc * c_{t-1},  dg = dc * i;   dz = [di, df, dg, do] * (gate derivatives)
        dL/dc_{t-1} = dc * f;          dL/dh_{t-1} = dz recurrent_kernel^T
        recurrent_kernel.grad = sum_t h_{t-1}^T dz_t      (one GEMM over all steps)

    Cached per step: the activated gates [i, f, g, o], gate-major (4, T, batch, units), c_t (T + 1 with c_0),
    phi(c_t) and h_t (T + 1 with h_0); with recurrent dropout also the dropped h_{t-1}. Backward keeps
    dL/dz_t in rows, (T, batch, 4 units), the layout of the GEMMs: per step dL/dh_{t-1} = dz_t R^T, and
    after the loop kernel.grad = X^T dZ and recurrent_kernel.grad = H^T dZ, one GEMM each.

    Args:
        units: Width of h and c.
        recurrent_activation: The gates' activation (default "sigmoid").
        unit_forget_bias: Start the forget gate's bias at 1 (Jozefowicz et al. 2015), so the cell
            remembers by default; the bias initializer then fills only the other three blocks.
        Others: see ``SimpleRNN``.

    Weights: kernel (features, 4 units), recurrent_kernel (units, 4 units), bias (4 units,). PyTorch's
    ``nn.LSTM`` uses the same gate order: weight_ih = kernel^T, weight_hh = recurrent_kernel^T,
    bias_ih + bias_hh = bias.
    """

    gates = 4
    n_states = 2

    def __init__(self, units: int, activation: Any = "tanh", recurrent_activation: Any = "sigmoid",
                 use_bias: bool = True, kernel_initializer: Any = "glorot_uniform",
                 recurrent_initializer: Any = "orthogonal", bias_initializer: Any = "zeros",
                 unit_forget_bias: bool = True, **kwargs: Any) -> None:
        super().__init__(units, activation=activation, use_bias=use_bias, kernel_initializer=kernel_initializer,
                         recurrent_initializer=recurrent_initializer, bias_initializer=bias_initializer, **kwargs)
        self.recurrent_activation = _resolve(activations.get, recurrent_activation, f"LSTM({units})",
                                             "recurrent_activation")
        self.unit_forget_bias = bool(unit_forget_bias)

    def _make_bias(self) -> Array:
        u = self.units
        if not self.unit_forget_bias:
            return self.bias_initializer((4 * u,), self.dtype)
        bias = np.concatenate([self.bias_initializer((u,), self.dtype), np.ones(u, self.dtype),
                               self.bias_initializer((2 * u,), self.dtype)])
        return bias.astype(self.dtype, copy=False)

    @property
    def _fused(self) -> bool:
        """sigmoid gates with a tanh cell: one tanh over the whole (batch, 4 units) block per step."""
        return isinstance(self.recurrent_activation, activations.Sigmoid) and isinstance(
            self.activation, activations.Tanh)

    def _constants(self, dtype: Any) -> tuple[Array, Array]:
        """Per-column vectors for the fused path: the sigmoid columns (i, f, o) get 1/2, the tanh one 1."""
        u = self.units
        scale = np.full(4 * u, 0.5, dtype=dtype)
        scale[2 * u : 3 * u] = 1.0
        return scale, 1 - scale  # sigmoid = scale * tanh(scale * z) + (1 - scale) on those columns

    def _input_projection(self, dtype: Any) -> tuple[Array, Array | None]:
        kernel, bias = super()._input_projection(dtype)
        if not self._fused:
            return kernel, bias
        scale = self._constants(dtype)[0]  # z / 2 on the sigmoid columns comes out of the GEMM itself
        return kernel * scale, None if bias is None else bias * scale

    def _project(self, x2: Array, kernel: Array, b_in: Array | None, steps: int, batch: int) -> Array:
        """XW gate-major, (4, T, batch, units): gate k of step t is one contiguous (batch, units) block.

        Gate blocks cut out of a (batch, 4 units) row layout are strided, and NumPy then loops over
        their rows: a binary op on one took 2-3x the time of the same op on a contiguous block
        (docs/recurrent.md, "Speed"). The bias rides along as one more kernel row against a column
        of ones (no broadcast pass).
        """
        u = self.units
        if b_in is not None:
            x2 = np.concatenate([x2, np.ones((len(x2), 1), x2.dtype)], axis=1)
            kernel = np.concatenate([kernel, b_in[None]], axis=0)
        return np.matmul(x2, kernel.reshape(-1, 4, u).transpose(1, 0, 2)).reshape(4, steps, batch, u)

    def _activate_gates(self, z: Array) -> None:
        """The gates [i, f, g, o] (4, batch, units) activated in place."""
        if self._fused:
            # z holds z / 2 in the sigmoid blocks (pre-scaled weights), z in the cell block:
            # sigmoid(z) = (1 + tanh(z / 2)) / 2, so one tanh serves all four gates
            half = z.dtype.type(0.5)
            np.tanh(z, out=z)
            for block in (z[:2], z[3:]):
                np.multiply(block, half, out=block)
                np.add(block, half, out=block)
            return
        self._activate(z[:2], self.recurrent_activation)
        self._activate(z[2], self.activation)
        self._activate(z[3:], self.recurrent_activation)

    def _steps(self, xw: Array, initial: list[Array], mt: Array | None, rec_mask: Array | None,
               training: bool) -> tuple[Array, list[Array], dict[str, Any]]:
        """The products in rows, the gate arithmetic gate-major, each where it is cheap.

        Per step one GEMM, h_{t-1} R (batch, 4 units), all four gates in one call (four calls cost
        four thread hand-offs with a threaded BLAS); its rows are added into the gate-major XW
        buffer, which then holds the activated gates.
        """
        _, steps, batch, u = xw.shape
        width = 4 * u
        dtype = xw.dtype
        recurrent = self.recurrent_kernel.value
        if self._fused:
            recurrent = recurrent * self._constants(dtype)[0]  # scaled like the kernel
        h_all = np.empty((steps + 1, batch, u), dtype)
        c_all = np.empty((steps + 1, batch, u), dtype)
        phi_c = np.empty((steps, batch, u), dtype)
        h_all[0], c_all[0] = initial
        h_in = h_all[:-1] if rec_mask is None else np.empty((steps, batch, u), dtype)
        product = np.empty((batch, width), dtype)
        product4 = product.reshape(batch, 4, u).transpose(1, 0, 2)  # gate-major views of the rows
        ig = np.empty((batch, u), dtype)
        for t in range(steps):
            h_prev = h_all[t]
            if rec_mask is not None:
                h_prev = np.multiply(h_prev, rec_mask, out=h_in[t])
            np.matmul(h_prev, recurrent, out=product)
            z = xw[:, t]  # the gate buffer: pre-activations, then (in place) the activated gates
            z += product4
            self._activate_gates(z)
            i, f, g, o = z
            c = c_all[t + 1]
            np.multiply(f, c_all[t], out=c)
            np.multiply(i, g, out=ig)
            c += ig
            if self._fused:
                np.tanh(c, out=phi_c[t])
            else:
                phi_c[t] = self.activation.forward(c)
            np.multiply(o, phi_c[t], out=h_all[t + 1])
            if mt is not None:
                carry = ~mt[t]
                np.copyto(h_all[t + 1], h_all[t], where=carry)
                np.copyto(c, c_all[t], where=carry)
        cache = {"gates": xw, "c_all": c_all, "phi_c": phi_c, "h_in": h_in} if training else {}
        return h_all, [h_all[steps], c_all[steps]], cache

    def _steps_backward(self, grad_seq: Array | None, grad_finals: list[Array | None], keep: Array | None
                        ) -> tuple[list[tuple[slice, Array]], list[Array]]:
        gates, c_all, phi_c, h_in, mt, rec_mask = self.read_cache("gates", "c_all", "phi_c", "h_in", "mt",
                                                                  "rec_mask")
        _, steps, batch, u = gates.shape
        dtype = gates.dtype
        # dL/dh_{t-1} = dz_t R^T as one GEMM over all four gates (K = 4 units), from dz_t in rows
        recurrent_t = np.ascontiguousarray(self.recurrent_kernel.value.T)
        grad_z = np.empty((steps, batch, 4 * u), dtype)
        dh = np.zeros((batch, u), dtype) if grad_finals[0] is None else grad_finals[0].copy()
        dc = np.zeros((batch, u), dtype) if grad_finals[1] is None else grad_finals[1].copy()
        d, deriv = np.empty((4, batch, u), dtype), np.empty((4, batch, u), dtype)
        tmp, tmp2 = np.empty((batch, u), dtype), np.empty((batch, u), dtype)
        for t in range(steps - 1, -1, -1):
            if grad_seq is not None:
                dh += grad_seq[t]
            if keep is not None:
                keep[t] = dh
            m = None if mt is None else mt[t]
            dh, dh_carry = self._split_masked(dh, m)
            dc, dc_carry = self._split_masked(dc, m)
            a = gates[:, t]
            i, f, g, o = a
            row = grad_z[t]  # (batch, 4 units): dL/dz_t in the row layout of the GEMMs
            np.multiply(dh, phi_c[t], out=d[3])  # do
            np.multiply(dh, o, out=tmp)  # dh * o: gradient into phi(c_t)
            if self._fused:  # dc += dh * o * (1 - phi^2), in preallocated buffers
                np.multiply(phi_c[t], phi_c[t], out=tmp2)
                np.subtract(1, tmp2, out=tmp2)
                tmp *= tmp2
                dc += tmp
            else:
                dc += self.activation.backward(tmp, phi_c[t])
            np.multiply(dc, g, out=d[0])  # di
            np.multiply(dc, c_all[t], out=d[1])  # df
            np.multiply(dc, i, out=d[2])  # dg
            dc = np.multiply(dc, f, out=dc if dc_carry is None else None)  # dL/dc_{t-1}
            if self._fused:  # a - a^2 (sigmoid') everywhere, then + (1 - g) makes the cell block's 1 - g^2
                np.multiply(a, a, out=deriv)
                np.subtract(a, deriv, out=deriv)
                np.subtract(1, g, out=tmp2)
                deriv[2] += tmp2
                np.multiply(d, deriv, out=row.reshape(batch, 4, u).transpose(1, 0, 2))
            else:
                self._derivative(d[:2], a[:2], self.recurrent_activation)
                self._derivative(d[2], g, self.activation)
                self._derivative(d[3:], a[3:], self.recurrent_activation)
                np.copyto(row.reshape(batch, 4, u).transpose(1, 0, 2), d)
            dh = np.matmul(row, recurrent_t, out=dh if dh_carry is None else None)
            if rec_mask is not None:
                dh *= rec_mask
            if dh_carry is not None:
                dh += dh_carry
                dc += dc_carry
        rows = steps * batch
        np.matmul(h_in.reshape(rows, u).T, grad_z.reshape(rows, 4 * u), out=self.recurrent_kernel.grad)
        return [(slice(0, 4 * u), grad_z)], [dh, dc]

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "recurrent_activation": serialize(self.recurrent_activation),
                "unit_forget_bias": self.unit_forget_bias}
