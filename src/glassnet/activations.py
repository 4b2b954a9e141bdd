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
    softplus a = log(1 + e^z)                da/dz = sigmoid(z) = 1 - e^{-a}

GELU and swish are not monotone (a = f(z) has two solutions z for some a < 0), so their derivative is
written from the input z: they set ``derivative_from_input = True`` and their ``backward(g, z)`` takes
the input, which a layer then caches instead of the output (``Dense``, ``Activation`` do):

    gelu     a = z Phi(z),  Phi(z) = (1 + erf(z / sqrt 2)) / 2          da/dz = Phi(z) + z phi(z)
    gelu (approximate="tanh")  a = z (1 + tanh u) / 2,  u = sqrt(2/pi) (z + 0.044715 z^3)
             da/dz = (1 + tanh u) / 2 + z (1 - tanh^2 u) sqrt(2/pi) (1 + 3 * 0.044715 z^2) / 2
    swish    a = z sigmoid(z)                da/dz = s (1 + z (1 - s)),  s = sigmoid(z)
"""

from __future__ import annotations

import functools
import math
from typing import Any, NamedTuple

import numpy as np

from ._registry import family
from ._typing import Array
from .errors import ConfigError


class Activation:
    """Base class: ``forward(z) -> a`` and ``backward(grad_a, a) -> grad_z``."""

    name = "activation"
    derivative_from_input = False  # True: ``backward(g, z)`` takes the input z, not the output a

    def forward(self, z: Array, inplace: bool = False) -> Array:
        raise NotImplementedError

    def backward(self, grad_output: Array, a: Array) -> Array:
        raise NotImplementedError

    def forward_saving(self, z: Array, inplace: bool = False) -> tuple[Array, Any]:
        """(a, what ``backward(g, .)`` needs): a, or z where ``derivative_from_input`` (GELU and swish
        override this to keep an intermediate as well, so backward does not recompute it). ``inplace=True``
        lets an override write a over z (the caller's own pre-activation); here z is left alone."""
        a = self.forward(z)
        return a, (z if self.derivative_from_input else a)

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


_RELU_TWO_PASS_MIN = 1 << 16  # elements from which ReLU's backward takes the float-mask form


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
        # Large arrays: the mask written as 0.0 / 1.0 into the result, then multiplied in place: the same
        # values as grad_output * (a > 0), but a float-by-float product; the bool-by-float one casts in
        # buffered blocks (measured 0.28 ms against 0.84 ms on a (15488, 64) float32 array, mnist_convnet's
        # conv2). Small ones (an MLP's (32, 64)): one call, as its extra calls cost more than they save
        # (W2's step took 7% longer with the two-call form).
        if a.size < _RELU_TWO_PASS_MIN:
            return np.multiply(grad_output, a > 0, out=out)
        if out is None or np.may_share_memory(out, grad_output):
            out = np.empty(np.broadcast_shapes(grad_output.shape, a.shape), np.result_type(grad_output, a))
        np.greater(a, 0, out=out)
        return np.multiply(out, grad_output, out=out)


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


def _erfc_scaled_log(s: Array) -> Array:
    """log(erfc(z) / t) + z^2 at s = 2 t - 1, t = 2 / (2 + z): the smooth function ``erf`` fits.

    Exact values from ``math.erfc``; beyond z = 20 (where erfc underflows soon) the asymptotic series
    erfc(z) e^{z^2} = 1 / (z sqrt(pi)) (1 - 1/(2 z^2) + 1*3/(2 z^2)^2 - ...), exact to rounding there.
    """
    out = np.empty(len(s))
    for i, si in enumerate(s):
        t = (si + 1.0) / 2.0
        if t <= 0.0:  # z = infinity: erfc(z) / t -> e^{-z^2} / (2 sqrt(pi))
            out[i] = -math.log(2.0 * math.sqrt(math.pi))
            continue
        z = 2.0 / t - 2.0
        if z < 20.0:
            out[i] = math.log(math.erfc(z) / t) + z * z
        else:
            series, term = 1.0, 1.0
            for n in range(1, 12):
                term *= -(2 * n - 1) / (2.0 * z * z)
                series += term
            out[i] = math.log(series / math.sqrt(math.pi) * (2.0 + z) / (2.0 * z))
    return out


@functools.cache
def _erf_coefficients(dtype: Any) -> tuple[Any, ...]:
    """Power-series coefficients (highest first) of the degree-24 Chebyshev interpolant of
    ``_erfc_scaled_log`` on [-1, 1]; |erf error| < 1e-15 over the real line (tests/test_transformer_activations)."""
    coef = np.polynomial.chebyshev.cheb2poly(np.polynomial.chebyshev.chebinterpolate(_erfc_scaled_log, 24))
    return tuple(np.dtype(dtype).type(c) for c in coef[::-1])


def erf(x: Array) -> Array:
    """The error function erf(x) = 2/sqrt(pi) int_0^x e^{-t^2} dt, elementwise, in x's float dtype.

    NumPy has no erf, so it is computed as in Numerical Recipes (3rd ed., ``Erf.erfccheb``): with
    z = |x| and t = 2 / (2 + z), erfc(z) = t exp(-z^2 + P(2t - 1)) where P is a polynomial fitted once
    (from ``math.erfc``) to the smooth function log(erfc(z)/t) + z^2; then erf(x) = sign(x) (1 - erfc(z)).
    """
    x = np.asarray(x)
    if x.dtype.kind != "f":
        x = x.astype(np.float64)
    z = np.abs(x)
    t = z + 2.0
    np.divide(2.0, t, out=t)
    s = t * 2.0
    s -= 1.0
    coef = _erf_coefficients(x.dtype)
    acc = np.full_like(s, coef[0])
    for c in coef[1:]:
        acc *= s
        acc += c
    np.square(z, out=z)
    acc -= z
    np.exp(acc, out=acc)
    acc *= t  # erfc(|x|)
    np.subtract(1.0, acc, out=acc)
    return np.copysign(acc, x, out=acc)


_SQRT_HALF = math.sqrt(0.5)
_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)
_SQRT_2_OVER_PI = math.sqrt(2.0 / math.pi)
_GELU_CUBIC = 0.044715


# Elements per block of a chain of elementwise passes with scratch arrays: two (2048, 512) float32 scratch
# arrays per GELU call, freed at once, made the allocator hand pages back and fault them in again each
# step (W9: 2121 against 569 page faults per step); 64 Ki-element blocks keep them at 256 KiB each.
_BLOCK = 65536


class Slope(NamedTuple):
    """da/dz, saved by ``forward_saving`` of an activation whose derivative needs its input."""

    da_dz: Array


def _gelu_tanh(z: Array, a: Array, slope: Array, s: Array, t: Array) -> None:
    """a = z h and da/dz = h + 2k z h (1 - h)(1 + 3c z^2), h = (1 + tanh u) / 2, u = k z (1 + c z^2),
    k = sqrt(2/pi), c = 0.044715 (1 - tanh^2 u = 4 h (1 - h)); ``a`` may be ``z``, s and t are scratch."""
    np.multiply(z, z, out=s)
    np.multiply(s, _SQRT_2_OVER_PI * _GELU_CUBIC, out=slope)
    slope += _SQRT_2_OVER_PI
    slope *= z
    np.tanh(slope, out=slope)
    slope *= 0.5
    slope += 0.5  # h
    s *= 6.0 * _SQRT_2_OVER_PI * _GELU_CUBIC
    s += 2.0 * _SQRT_2_OVER_PI
    s *= z
    np.subtract(1.0, slope, out=t)
    t *= slope
    s *= t
    np.multiply(z, slope, out=a)
    slope += s


class GELU(Activation):
    """Gaussian error linear unit (Hendrycks and Gimpel, 2016): a = z Phi(z), Phi the normal CDF.

    Exact form: Phi(z) = (1 + erf(z / sqrt 2)) / 2,  da/dz = Phi(z) + z phi(z),  phi(z) = e^{-z^2/2} / sqrt(2 pi).
    ``approximate="tanh"``: a = z (1 + tanh u) / 2 with u = sqrt(2/pi) (z + 0.044715 z^3),
    da/dz = (1 + tanh u) / 2 + z (1 - tanh^2 u) sqrt(2/pi) (1 + 3 * 0.044715 z^2) / 2.
    ``backward(g, z)`` takes the input z (the function is not monotone for z < -0.75); ``forward_saving``
    keeps da/dz itself, computed beside a (measured on W9: docs/transformer.md, "Speed: W9").
    """

    name = "gelu"
    derivative_from_input = True

    def __init__(self, approximate: str | bool = "none") -> None:
        if approximate is True:
            approximate = "tanh"
        elif approximate is False:
            approximate = "none"
        if approximate not in ("none", "tanh"):
            raise ConfigError(f"gelu approximate must be 'none' (exact erf form) or 'tanh', got {approximate!r}")
        self.approximate = str(approximate)

    def _tanh_u(self, z: Array) -> Array:
        """tanh(u), u = sqrt(2/pi) z (1 + 0.044715 z^2), in a new array."""
        u = z * z
        u *= _SQRT_2_OVER_PI * _GELU_CUBIC
        u += _SQRT_2_OVER_PI
        u *= z
        return np.tanh(u, out=u)

    def _cdf2(self, z: Array) -> Array:
        """1 + tanh(u) or 1 + erf(z / sqrt 2), that is 2 Phi(z) (a new array)."""
        phi2 = self._tanh_u(z) if self.approximate == "tanh" else erf(z * _SQRT_HALF)
        phi2 += 1.0
        return phi2

    def forward(self, z: Array, inplace: bool = False) -> Array:
        phi2 = self._cdf2(z)
        phi2 *= 0.5
        return np.multiply(z, phi2, out=z if inplace else phi2)

    def forward_saving(self, z: Array, inplace: bool = False) -> tuple[Array, Any]:
        """a and ``Slope(da/dz)``: backward is then one product g * da/dz, and no z, tanh or erf is kept.
        ``inplace=True`` writes a over z (the caller's fresh pre-activation)."""
        if self.approximate != "tanh":
            phi = self._cdf2(z)
            phi *= 0.5
            slope = z * z  # Phi(z) + z phi(z)
            slope *= -0.5
            np.exp(slope, out=slope)
            slope *= _INV_SQRT_2PI
            slope *= z
            slope += phi
            return np.multiply(z, phi, out=z if inplace else phi), Slope(slope)
        if not z.flags.c_contiguous:  # the flat block views below need C order
            z, inplace = np.ascontiguousarray(z), False
        a = z if inplace else np.empty(z.shape, dtype=z.dtype)
        slope = np.empty(z.shape, dtype=z.dtype)
        z1, a1, slope1 = z.reshape(-1), a.reshape(-1), slope.reshape(-1)
        n = z1.size
        work = np.empty((2, min(n, _BLOCK)), dtype=z.dtype)
        for lo in range(0, n, _BLOCK):  # blocks keep the two scratch arrays small (see _BLOCK)
            hi = min(lo + _BLOCK, n)
            _gelu_tanh(z1[lo:hi], a1[lo:hi], slope1[lo:hi], work[0, : hi - lo], work[1, : hi - lo])
        return a, Slope(slope)

    def backward(self, grad_output: Array, a: Any) -> Array:
        """``a`` is the input z (derivative_from_input), or ``Slope(da/dz)`` from ``forward_saving``."""
        if isinstance(a, Slope):
            return grad_output * a.da_dz
        z, phi2 = a, self._cdf2(a)
        if self.approximate == "tanh":  # (1 + th + (1 - th^2) z sqrt(2/pi) (1 + 3 c z^2)) / 2, th = phi2 - 1
            inner = z * z
            inner *= 3.0 * _GELU_CUBIC * _SQRT_2_OVER_PI
            inner += _SQRT_2_OVER_PI
            inner *= z
            sech2 = 2.0 - phi2  # 1 - th^2 = (1 - th)(1 + th) = (2 - phi2) phi2
            sech2 *= phi2
            inner *= sech2
            inner += phi2
            inner *= 0.5
            return np.multiply(grad_output, inner, out=inner)
        density = z * z  # Phi(z) + z phi(z)
        density *= -0.5
        np.exp(density, out=density)
        density *= _INV_SQRT_2PI
        density *= z
        density += 0.5 * phi2
        return np.multiply(grad_output, density, out=density)

    def backward_into(self, grad_output: Array, a: Any, out: Array | None) -> Array:
        if isinstance(a, Slope):
            return np.multiply(grad_output, a.da_dz, out=out)
        return self.backward(grad_output, a)

    def get_config(self) -> dict[str, Any]:
        return {"approximate": self.approximate}


class Swish(Activation):
    """Swish / SiLU (Ramachandran et al., 2017; Elfwing et al., 2018): a = z sigmoid(z).

    da/dz = s + z s (1 - s) = s (1 + z (1 - s)) with s = sigmoid(z); ``backward(g, z)`` takes the input z
    (the function has a minimum at z = -1.278..., so a does not determine z).
    """

    name = "swish"
    derivative_from_input = True

    def forward(self, z: Array, inplace: bool = False) -> Array:
        s = Sigmoid().forward(z)
        return np.multiply(z, s, out=z if inplace else s)

    def forward_saving(self, z: Array, inplace: bool = False) -> tuple[Array, Any]:
        """a and (z, sigmoid(z)), so backward needs no second sigmoid (z is kept, so never in place)."""
        s = Sigmoid().forward(z)
        return z * s, (z, s)

    def backward(self, grad_output: Array, a: Any) -> Array:
        """``a`` is the input z (derivative_from_input), or ``(z, sigmoid(z))`` from ``forward_saving``."""
        z, s = a if isinstance(a, tuple) else (a, Sigmoid().forward(a))
        d = 1.0 - s
        d *= z
        d += 1.0
        d *= s
        return np.multiply(grad_output, d, out=d)


class Softplus(Activation):
    """a = log(1 + e^z), computed as max(z, 0) + log1p(e^{-|z|}) (no overflow);
    da/dz = sigmoid(z) = 1 - e^{-a}, written from the output (softplus is monotone)."""

    name = "softplus"

    def forward(self, z: Array, inplace: bool = False) -> Array:
        tail = np.abs(z)
        np.negative(tail, out=tail)
        np.exp(tail, out=tail)
        np.log1p(tail, out=tail)
        out = np.maximum(z, 0, out=z if inplace else None)
        out += tail
        return out

    def backward(self, grad_output: Array, a: Array) -> Array:
        d = np.negative(a)
        np.expm1(d, out=d)
        np.negative(d, out=d)  # 1 - e^{-a} without cancellation for small a
        return np.multiply(grad_output, d, out=d)


ACTIVATIONS = family("activation", Activation)
for _cls in (Linear, Sigmoid, Tanh, ReLU, LeakyReLU, ELU, SELU, Softmax, GELU, Swish, Softplus):
    ACTIVATIONS.register(_cls, _cls.name)
ACTIVATIONS.alias("leakyrelu", LeakyReLU)
ACTIVATIONS.alias("silu", Swish)


def get(identifier: Any) -> Activation:
    """Resolve ``None`` (linear), a name such as ``"relu"``, a config dict or an ``Activation``."""
    if identifier is None:
        return Linear()
    return ACTIVATIONS.get(identifier)


def names() -> list[str]:
    """Every activation name ``get`` accepts."""
    return ACTIVATIONS.names()


__all__ = ["ELU", "GELU", "SELU", "Activation", "LeakyReLU", "Linear", "ReLU", "Sigmoid", "Slope", "Softmax",
           "Softplus", "Swish", "Tanh", "erf", "get", "names"]
