"""GRU (Cho et al. 2014), both Keras variants: reset_after=True (default, cuDNN/PyTorch) and False."""

from __future__ import annotations

from typing import Any

import numpy as np

from .. import activations
from .._registry import serialize
from .._typing import Array
from ._recurrent_base import Recurrent, sigmoid_inplace
from .core import _resolve


class GRU(Recurrent):
    """Gated recurrent unit: an update gate z mixes the old state with a candidate.

    With sigma = recurrent_activation (sigmoid), phi = activation (tanh), kernel columns in Keras's gate
    order z, r, h (each ``units`` wide), xz, xr, xh the input parts x_t kernel + b_in:

        reset_after=True (bias (2, 3 units): row 0 input bias b_in, row 1 recurrent bias b_rec):
            [rz, rr, rh] = h_{t-1} recurrent_kernel + b_rec
            z = sigma(xz + rz),  r = sigma(xr + rr),  hh = phi(xh + r * rh)
        reset_after=False (bias (3 units,), all in b_in):
            z = sigma(xz + h_{t-1} U_z),  r = sigma(xr + h_{t-1} U_r),  hh = phi(xh + (r * h_{t-1}) U_h)
        h_t = z * h_{t-1} + (1 - z) * hh

    Backward through time, dh = dL/dh_t, a_* the pre-activations:

        dz = dh * (h_{t-1} - hh),  da_h = dh * (1 - z) * phi'(hh),  da_z = dz * sigma'(z)
        after:  dr = da_h * rh,  d(rh) = da_h * r;   before:  d(r h) = da_h U_h^T,  dr = d(r h) * h_{t-1}
        da_r = dr * sigma'(r);  dL/dh_{t-1} = dh * z + (the recurrent products' gradients)

    Cached per step: the activated gates [z, r, hh] and h_t; reset_after=True also the recurrent
    products [rz, rr, rh + b_rh] in rows; reset_after=False also r * h_{t-1}. reset_after=True keeps the
    gates gate-major, (3, T, batch, units), so each gate block of a step is contiguous.

    Weights: kernel (features, 3 units), recurrent_kernel (units, 3 units), bias as above. PyTorch's
    ``nn.GRU`` is reset_after=True with blocks in the order r, z, n: weight_ih = kernel^T with blocks
    reordered (z, r, h -> r, z, h), likewise weight_hh, bias_ih = bias[0], bias_hh = bias[1] reordered.
    """

    gates = 3

    def __init__(self, units: int, activation: Any = "tanh", recurrent_activation: Any = "sigmoid",
                 use_bias: bool = True, kernel_initializer: Any = "glorot_uniform",
                 recurrent_initializer: Any = "orthogonal", bias_initializer: Any = "zeros",
                 reset_after: bool = True, **kwargs: Any) -> None:
        super().__init__(units, activation=activation, use_bias=use_bias, kernel_initializer=kernel_initializer,
                         recurrent_initializer=recurrent_initializer, bias_initializer=bias_initializer, **kwargs)
        self.recurrent_activation = _resolve(activations.get, recurrent_activation, f"GRU({units})",
                                             "recurrent_activation")
        self.reset_after = bool(reset_after)

    @property
    def _fused(self) -> bool:
        """sigmoid gates and a tanh candidate: written out with in-place NumPy calls, no temporaries."""
        return isinstance(self.recurrent_activation, activations.Sigmoid) and isinstance(
            self.activation, activations.Tanh)

    def _sigma(self, block: Array) -> None:
        if self._fused:
            sigmoid_inplace(block)
        else:
            self._activate(block, self.recurrent_activation)

    def _make_bias(self) -> Array:
        shape = (2, 3 * self.units) if self.reset_after else (3 * self.units,)
        return self.bias_initializer(shape, self.dtype)

    def _bias_views(self) -> tuple[Any, Any, Any, Any]:
        if not self.use_bias or not self.reset_after:
            return super()._bias_views()
        value, grad = self.bias.value, self.bias.grad
        return value[0], grad[0], value[1], grad[1]

    def _input_projection(self, dtype: Any) -> tuple[Array, Array | None]:
        """reset_after: z and r see xz + rz and xr + rr only as sums, so their recurrent biases join the
        input bias (one bias pass less per step); the candidate's stays on rh, where r multiplies it."""
        kernel, b_in = super()._input_projection(dtype)
        b_rec = self._bias_views()[2]
        if not self.reset_after or b_in is None or b_rec is None:
            return kernel, b_in
        b_in = b_in.copy()
        b_in[: 2 * self.units] += b_rec[: 2 * self.units]
        return kernel, b_in

    def _project(self, x2: Array, kernel: Array, b_in: Array | None, steps: int, batch: int) -> Array:
        """reset_after: XW gate-major (3, T, batch, units), each gate block of a step contiguous (a binary
        op on a strided block of the row layout took 2-3x as long); the bias as one more kernel row
        against a column of ones. reset_after=False keeps the row layout (T, batch, 3 units)."""
        if not self.reset_after:
            return super()._project(x2, kernel, b_in, steps, batch)
        u = self.units
        if b_in is not None:
            x2 = np.concatenate([x2, np.ones((len(x2), 1), x2.dtype)], axis=1)
            kernel = np.concatenate([kernel, b_in[None]], axis=0)
        return np.matmul(x2, kernel.reshape(-1, 3, u).transpose(1, 0, 2)).reshape(3, steps, batch, u)

    def _steps(self, xw: Array, initial: list[Array], mt: Array | None, rec_mask: Array | None,
               training: bool) -> tuple[Array, list[Array], dict[str, Any]]:
        if self.reset_after:
            return self._steps_after(xw, initial, mt, rec_mask, training)
        # reset_after=False, row layout (T, batch, 3 units)
        steps, batch, _ = xw.shape
        u, dtype = self.units, xw.dtype
        kernel_u = self.recurrent_kernel.value
        h_all = np.empty((steps + 1, batch, u), dtype)
        h_all[0] = initial[0]
        h_in = h_all[:-1] if rec_mask is None else np.empty((steps, batch, u), dtype)
        saved = np.empty((steps, batch, u), dtype)  # r * h_{t-1} per step
        product = np.empty((batch, 2 * u), dtype)
        for t in range(steps):
            h_prev = h_all[t]
            h_rec = h_prev if rec_mask is None else np.multiply(h_prev, rec_mask, out=h_in[t])
            a = xw[t]  # pre-activations, then (in place) the activated gates [z, r, hh]
            a[:, : 2 * u] += np.matmul(h_rec, kernel_u[:, : 2 * u], out=product)
            self._sigma(a[:, : 2 * u])
            rh = np.multiply(a[:, u : 2 * u], h_rec, out=saved[t])
            a[:, 2 * u :] += rh @ kernel_u[:, 2 * u :]
            hh = a[:, 2 * u :]
            if self._fused:
                np.tanh(hh, out=hh)
            else:
                self._activate(hh, self.activation)
            h = np.subtract(h_prev, hh, out=h_all[t + 1])  # h_t = hh + z * (h_{t-1} - hh)
            h *= a[:, :u]
            h += hh
            if mt is not None:
                np.copyto(h, h_prev, where=~mt[t])
        cache = {"gates": xw, "h_all": h_all, "h_in": h_in, "saved": saved} if training else {}
        return h_all, [h_all[steps]], cache

    def _steps_after(self, xw: Array, initial: list[Array], mt: Array | None, rec_mask: Array | None,
                     training: bool) -> tuple[Array, list[Array], dict[str, Any]]:
        """reset_after=True with gate-major gates: per step one GEMM h_{t-1} R into rows [rz, rr, rh],
        whose blocks are added into the contiguous gate blocks of XW."""
        _, steps, batch, u = xw.shape
        dtype = xw.dtype
        kernel_u = self.recurrent_kernel.value
        b_rec = self._bias_views()[2]
        b_rh = None if b_rec is None else b_rec[2 * u :]
        h_all = np.empty((steps + 1, batch, u), dtype)
        h_all[0] = initial[0]
        h_in = h_all[:-1] if rec_mask is None else np.empty((steps, batch, u), dtype)
        saved = np.empty((steps, batch, 3 * u), dtype)  # [rz, rr, rh + b_rh] per step, in rows
        product = np.empty((batch, u), dtype)
        for t in range(steps):
            h_prev = h_all[t]
            h_rec = h_prev if rec_mask is None else np.multiply(h_prev, rec_mask, out=h_in[t])
            rec = np.matmul(h_rec, kernel_u, out=saved[t]).reshape(batch, 3, u).transpose(1, 0, 2)
            a = xw[:, t]  # pre-activations, then (in place) the activated gates [z, r, hh]
            a[:2] += rec[:2]
            self._sigma(a[:2])
            rh = rec[2]
            if b_rh is not None:
                rh += b_rh
            a[2] += np.multiply(a[1], rh, out=product)
            hh = a[2]
            if self._fused:
                np.tanh(hh, out=hh)
            else:
                self._activate(hh, self.activation)
            h = np.subtract(h_prev, hh, out=h_all[t + 1])  # h_t = hh + z * (h_{t-1} - hh)
            h *= a[0]
            h += hh
            if mt is not None:
                np.copyto(h, h_prev, where=~mt[t])
        cache = {"gates": xw, "h_all": h_all, "h_in": h_in, "saved": saved} if training else {}
        return h_all, [h_all[steps]], cache

    def _steps_backward_after(self, grad_seq: Array | None, grad_finals: list[Array | None], keep: Array | None
                              ) -> tuple[list[tuple[slice, Array]], list[Array]]:
        """Backward of ``_steps_after``: the gate arithmetic on contiguous gate blocks, dL/d[rz, rr, rh] in
        rows for the one GEMM per step (dL/dh_{t-1} += g R^T) and the recurrent kernel's gradient."""
        gates, h_all, h_in, saved, mt, rec_mask = self.read_cache("gates", "h_all", "h_in", "saved", "mt",
                                                                  "rec_mask")
        _, steps, batch, u = gates.shape
        dtype = gates.dtype
        kernel_t = np.ascontiguousarray(self.recurrent_kernel.value.T)
        grad_a = np.empty_like(gates)  # dL/d(input pre-activations), gate-major
        grad_rec = np.empty((steps, batch, 3 * u), dtype)  # dL/d[rz, rr, rh], rows
        dh = np.zeros((batch, u), dtype) if grad_finals[0] is None else grad_finals[0].copy()
        tmp, tmp2, deriv = np.empty((batch, u), dtype), np.empty((batch, u), dtype), np.empty((2, batch, u), dtype)
        for t in range(steps - 1, -1, -1):
            if grad_seq is not None:
                dh += grad_seq[t]
            if keep is not None:
                keep[t] = dh
            dh, dh_carry = self._split_masked(dh, None if mt is None else mt[t])
            a, d = gates[:, t], grad_a[:, t]
            z, r, hh = a
            np.subtract(h_all[t], hh, out=d[0])
            d[0] *= dh  # dz
            np.subtract(1, z, out=d[2])
            d[2] *= dh  # d hh
            if self._fused:
                d[2] *= np.multiply(np.subtract(1, hh, out=tmp), np.add(1, hh, out=tmp2), out=tmp)
            else:
                self._derivative(d[2], hh, self.activation)  # da_h
            g = grad_rec[t]
            g3 = g.reshape(batch, 3, u).transpose(1, 0, 2)
            np.multiply(d[2], saved[t][:, 2 * u :], out=d[1])  # dr = da_h (rh + b_rh)
            self._sigma_derivative(d[:2], a[:2], deriv)
            np.copyto(g3[:2], d[:2])
            np.multiply(d[2], r, out=g3[2])  # d(rh) = da_h r
            grad_prev = np.matmul(g, kernel_t)
            if rec_mask is not None:
                grad_prev *= rec_mask
            np.multiply(dh, z, out=tmp)
            grad_prev += tmp
            if dh_carry is not None:
                grad_prev += dh_carry
            dh = grad_prev
        rows = steps * batch
        g2 = grad_rec.reshape(rows, 3 * u)
        np.matmul(h_in.reshape(rows, u).T, g2, out=self.recurrent_kernel.grad)
        b_rec_grad = self._bias_views()[3]
        if b_rec_grad is not None:
            np.add.reduce(g2, axis=0, out=b_rec_grad)
        return [(slice(k * u, (k + 1) * u), grad_a[k]) for k in range(3)], [dh]

    def _steps_backward(self, grad_seq: Array | None, grad_finals: list[Array | None], keep: Array | None
                        ) -> tuple[list[tuple[slice, Array]], list[Array]]:
        if self.reset_after:
            return self._steps_backward_after(grad_seq, grad_finals, keep)
        gates, h_all, h_in, saved, mt, rec_mask = self.read_cache("gates", "h_all", "h_in", "saved", "mt",
                                                                  "rec_mask")
        steps, batch, width = gates.shape
        u, dtype = self.units, gates.dtype
        kernel_u = self.recurrent_kernel.value
        grad_a = np.empty_like(gates)  # dL/d(input pre-activations) [da_z, da_r, da_h]
        dh = np.zeros((batch, u), dtype) if grad_finals[0] is None else grad_finals[0].copy()
        tmp, tmp2, deriv = np.empty((batch, u), dtype), np.empty((batch, u), dtype), np.empty((batch, 2 * u), dtype)
        for t in range(steps - 1, -1, -1):
            if grad_seq is not None:
                dh += grad_seq[t]
            if keep is not None:
                keep[t] = dh
            dh, dh_carry = self._split_masked(dh, None if mt is None else mt[t])
            a, d = gates[t], grad_a[t]
            z, r, hh = a[:, :u], a[:, u : 2 * u], a[:, 2 * u :]
            np.subtract(h_all[t], hh, out=d[:, :u])
            d[:, :u] *= dh  # dz
            np.subtract(1, z, out=d[:, 2 * u :])
            d[:, 2 * u :] *= dh  # d hh
            if self._fused:
                d[:, 2 * u :] *= np.multiply(np.subtract(1, hh, out=tmp), np.add(1, hh, out=tmp2), out=tmp)
            else:
                self._derivative(d[:, 2 * u :], hh, self.activation)  # da_h
            grad_rh = d[:, 2 * u :] @ kernel_u[:, 2 * u :].T  # dL/d(r * h_{t-1})
            h_rec = h_all[t] if rec_mask is None else h_in[t]
            np.multiply(grad_rh, h_rec, out=d[:, u : 2 * u])  # dr
            self._sigma_derivative(d[:, : 2 * u], a[:, : 2 * u], deriv)
            grad_prev = grad_rh * r
            grad_prev += d[:, : 2 * u] @ kernel_u[:, : 2 * u].T
            if rec_mask is not None:
                grad_prev *= rec_mask
            grad_prev += dh * z
            if dh_carry is not None:
                grad_prev += dh_carry
            dh = grad_prev
        rows = steps * batch
        a2 = grad_a.reshape(rows, width)
        np.matmul(h_in.reshape(rows, u).T, a2[:, : 2 * u], out=self.recurrent_kernel.grad[:, : 2 * u])
        np.matmul(saved.reshape(rows, u).T, a2[:, 2 * u :], out=self.recurrent_kernel.grad[:, 2 * u :])
        return [(slice(None), grad_a)], [dh]

    def _sigma_derivative(self, grad: Array, a: Array, buffer: Array) -> None:
        if self._fused:
            np.subtract(1, a, out=buffer)
            buffer *= a  # sigmoid' = a (1 - a)
            grad *= buffer
        else:
            self._derivative(grad, a, self.recurrent_activation)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "recurrent_activation": serialize(self.recurrent_activation),
                "reset_after": self.reset_after}
