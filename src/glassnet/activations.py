"""Activation functions, each a forward value and a derivative written from its output.

Every derivative here is expressed through the output ``a = f(z)`` (not ``z``), so a layer caches only
``a``. That works because each function is monotone with ``a > 0`` exactly where ``z > 0``:

    linear   a = z                           da/dz = 1
    sigmoid  a = 1 / (1 + exp(-z))           da/dz = a (1 - a)
    tanh     a = tanh(z)                     da/dz = 1 - a^2
    relu     a = max(z, 0)                   da/dz = [a > 0]
    leaky    a = z if z > 0 else alpha z     da/dz = 1 if a > 0 else alpha
    elu      a = z if z > 0 else alpha (e^z - 1)          da/dz = 1 if a > 0 else a + alpha
    selu     a = lam z if z > 0 else lam alpha (e^z - 1)  da/dz = lam if a > 0 else a + lam alpha
    softmax  a_i = e^{z_i} / sum_j e^{z_j}   dL/dz = a * (g - sum(g * a))   (Jacobian-vector product)
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ._registry import family
from ._typing import Array
from .errors import ConfigError


class Activation:
    """Base class: ``forward(z) -> a`` and ``backward(grad_a, a) -> grad_z``."""

    name = "activation"

    def forward(self, z: Array, inplace: bool = False) -> Array:
        raise NotImplementedError

    def backward(self, grad_output: Array, a: Array) -> Array:
        raise NotImplementedError

    def backward_into(self, grad_output: Array, a: Array, out: Array | None) -> Array:
        """``backward`` written into ``out`` when given (a buffer reused across batches); may return
        ``grad_output`` itself where the derivative is 1. Subclasses without an override allocate."""
        return self.backward(grad_output, a)

    def __call__(self, z: Array) -> Array:
        return self.forward(z)

    def get_config(self) -> dict[str, Any]:
        return {}

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{type(self).__name__}({args})"


class Linear(Activation):
    """a = z."""

    name = "linear"

    def forward(self, z: Array, inplace: bool = False) -> Array:
        return z

    def backward(self, grad_output: Array, a: Array) -> Array:
        return grad_output

    def backward_into(self, grad_output: Array, a: Array, out: Array | None) -> Array:
        return grad_output


class Sigmoid(Activation):
    """a = 1 / (1 + exp(-z)), computed without overflow for any z; da/dz = a (1 - a)."""

    name = "sigmoid"

    def forward(self, z: Array, inplace: bool = False) -> Array:
        negative = z < 0
        e = np.abs(z)
        np.negative(e, out=e)
        e = np.exp(e, out=e if e.dtype.kind == "f" else None)  # exp(-|z|) in (0, 1]: never overflows
        denominator = 1 + e
        out = z if inplace else np.empty_like(z)
        # 1 / d everywhere, then e / d where z < 0: one masked division instead of two (a NaN gives NaN)
        np.divide(1, denominator, out=out)
        np.divide(e, denominator, out=out, where=negative)
        return out

    def backward(self, grad_output: Array, a: Array) -> Array:
        return grad_output * a * (1 - a)

    def backward_into(self, grad_output: Array, a: Array, out: Array | None) -> Array:
        if out is None:
            return self.backward(grad_output, a)
        np.multiply(grad_output, a, out=out)
        return np.multiply(out, 1 - a, out=out)  # (g a)(1 - a): the same rounding as backward


class Tanh(Activation):
    """a = tanh(z); da/dz = 1 - a^2, computed as (1 - a)(1 + a): exact to rounding even where |a| -> 1."""

    name = "tanh"

    def forward(self, z: Array, inplace: bool = False) -> Array:
        return np.tanh(z, out=z if inplace else None)

    def backward(self, grad_output: Array, a: Array) -> Array:
        return grad_output * ((1 - a) * (1 + a))

    def backward_into(self, grad_output: Array, a: Array, out: Array | None) -> Array:
        if out is None:
            return self.backward(grad_output, a)
        return np.multiply(grad_output, (1 - a) * (1 + a), out=out)  # same rounding as backward


class ReLU(Activation):
    """a = max(z, 0); da/dz = 1 where a > 0, else 0 (0 chosen at the kink)."""

    name = "relu"

    def forward(self, z: Array, inplace: bool = False) -> Array:
        # NumPy's maximum against a scalar 0 takes a slow loop: 10 us on a 128 x 256 float32 array, against
        # 4 us with a zero row broadcast over the rows and 2 us with a zero array of z's shape (NumPy 2.4).
        # The values are the same. A small array gets the full zero array, a larger one the zero row, which
        # costs no memory and leaves the cache to the rest of the step.
        zero = self._zeros(z) if z.dtype.kind == "f" and z.ndim else 0
        return np.maximum(z, zero, out=z if inplace else None)

    def _zeros(self, like: Array) -> Array:
        """Read-only zeros broadcastable to ``like``, kept for the next call (two shapes at most)."""
        shape = like.shape if like.size <= 4096 else like.shape[-1:]
        key = (shape, like.dtype)
        cache: dict[Any, Array] = self.__dict__.setdefault("_zero_arrays", {})
        zeros = cache.get(key)
        if zeros is None:
            if len(cache) >= 2:  # a loop sees one or two batch shapes; drop the oldest
                del cache[next(iter(cache))]
            zeros = cache[key] = np.zeros(shape, dtype=like.dtype)
            zeros.flags.writeable = False
        return zeros

    def backward(self, grad_output: Array, a: Array) -> Array:
        return grad_output * (a > 0)

    def backward_into(self, grad_output: Array, a: Array, out: Array | None) -> Array:
        return np.multiply(grad_output, a > 0, out=out)


class LeakyReLU(Activation):
    """a = z if z > 0 else alpha z (alpha >= 0); da/dz = 1 or alpha."""

    name = "leaky_relu"

    def __init__(self, alpha: float = 0.01) -> None:
        if not 0.0 <= float(alpha) < 1.0:
            raise ConfigError(f"leaky_relu alpha must be in [0, 1), got {alpha!r}")
        self.alpha = float(alpha)

    def forward(self, z: Array, inplace: bool = False) -> Array:
        return np.where(z > 0, z, self.alpha * z)

    def backward(self, grad_output: Array, a: Array) -> Array:
        return np.where(a > 0, grad_output, self.alpha * grad_output)

    def get_config(self) -> dict[str, Any]:
        return {"alpha": self.alpha}


class ELU(Activation):
    """a = z if z > 0 else alpha (exp(z) - 1); da/dz = 1 or a + alpha (Clevert et al., 2015)."""

    name = "elu"

    def __init__(self, alpha: float = 1.0) -> None:
        if not float(alpha) > 0:
            raise ConfigError(f"elu alpha must be > 0, got {alpha!r}")
        self.alpha = float(alpha)

    def forward(self, z: Array, inplace: bool = False) -> Array:
        return np.where(z > 0, z, self.alpha * np.expm1(np.minimum(z, 0)))

    def backward(self, grad_output: Array, a: Array) -> Array:
        return np.where(a > 0, grad_output, grad_output * (a + self.alpha))

    def get_config(self) -> dict[str, Any]:
        return {"alpha": self.alpha}


SELU_LAMBDA = 1.0507009873554805
SELU_ALPHA = 1.6732632423543772


class SELU(Activation):
    """a = lam z if z > 0 else lam alpha (exp(z) - 1), lam = 1.0507..., alpha = 1.6732... (Klambauer 2017)."""

    name = "selu"

    def forward(self, z: Array, inplace: bool = False) -> Array:
        negative = (SELU_LAMBDA * SELU_ALPHA) * np.expm1(np.minimum(z, 0))
        return np.where(z > 0, SELU_LAMBDA * z, negative)

    def backward(self, grad_output: Array, a: Array) -> Array:
        return np.where(a > 0, SELU_LAMBDA * grad_output, grad_output * (a + SELU_LAMBDA * SELU_ALPHA))


def _row_max(z: Array) -> Array:
    """z.max(axis=-1, keepdims=True). For a short last axis (10 classes) NumPy's reduction along it takes
    6 us on 128 rows; on a transposed copy, reducing across rows, it takes 1.7 us. A maximum is exact,
    so the result is the same either way."""
    if z.ndim >= 2 and 0 < z.shape[-1] <= 64 and z.size >= 32 * z.shape[-1]:  # from 32 rows on it pays
        flat = z.reshape(-1, z.shape[-1])
        return np.ascontiguousarray(flat.T).max(axis=0).reshape(z.shape[:-1] + (1,))
    return z.max(axis=-1, keepdims=True)


class Softmax(Activation):
    """a_i = exp(z_i - max z) / sum_j exp(z_j - max z) over the last axis; dL/dz = a (g - sum(g a))."""

    name = "softmax"

    def forward(self, z: Array, inplace: bool = False) -> Array:
        out = np.subtract(z, _row_max(z), out=z if inplace else None)
        np.exp(out, out=out)
        out /= out.sum(axis=-1, keepdims=True)
        return out

    def backward(self, grad_output: Array, a: Array) -> Array:
        inner = np.einsum("...i,...i->...", grad_output, a)[..., None]
        return a * (grad_output - inner)


ACTIVATIONS = family("activation", Activation)
for _cls in (Linear, Sigmoid, Tanh, ReLU, LeakyReLU, ELU, SELU, Softmax):
    ACTIVATIONS.register(_cls, _cls.name)
ACTIVATIONS.alias("leakyrelu", LeakyReLU)


def get(identifier: Any) -> Activation:
    """Resolve ``None`` (linear), a name such as ``"relu"``, a config dict or an ``Activation``."""
    if identifier is None:
        return Linear()
    return ACTIVATIONS.get(identifier)


def names() -> list[str]:
    """Every activation name ``get`` accepts."""
    return ACTIVATIONS.names()


__all__ = ["Activation", "ELU", "LeakyReLU", "Linear", "ReLU", "SELU", "Sigmoid", "Softmax", "Tanh", "get", "names"]
