"""Weight initializers: ``init(shape, dtype=None) -> array``.

fan_in and fan_out follow the usual convention: for a kernel of shape (..., n_in, n_out) the leading
axes form a receptive field r, fan_in = r * n_in and fan_out = r * n_out.

    GlorotUniform  U(-s, s), s = sqrt(6 / (fan_in + fan_out))     (Glorot & Bengio, 2010)
    GlorotNormal   N(0, 2 / (fan_in + fan_out))
    HeNormal       N(0, 2 / fan_in)                                (He et al., 2015)
    HeUniform      U(-s, s), s = sqrt(6 / fan_in)
    LecunNormal    N(0, 1 / fan_in)
    Orthogonal     gain * Q, Q from the QR decomposition of a normal matrix (Saxe et al., 2014)

Values are drawn in float64 and then cast, so a seed gives the same weights under every floatx.
An initializer with a ``seed`` returns the same values on every call; without one it draws from
glassnet's default generator (``gn.set_seed``).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from . import backend
from ._budget import charge
from ._registry import family
from ._typing import Array, Shape


def compute_fans(shape: Shape) -> tuple[int, int]:
    """(fan_in, fan_out) of a weight of this shape."""
    if len(shape) == 0:
        return 1, 1
    if len(shape) == 1:
        return shape[0], shape[0]
    receptive = math.prod(shape[:-2])
    return shape[-2] * receptive, shape[-1] * receptive


class Initializer:
    """Base class. Subclasses implement ``sample(shape, rng) -> float64 array``."""

    def __init__(self, seed: int | None = None) -> None:
        self.seed = seed

    def __call__(self, shape: Shape, dtype: Any = None) -> Array:
        rng = backend.make_generator(self.seed) if self.seed is not None else backend.generator()
        shape = tuple(int(s) for s in shape)
        if charge(shape, f"initializer {type(self).__name__}"):  # inside load_model: overwritten next
            return np.zeros(shape, dtype=dtype or backend.floatx())
        values = self.sample(shape, rng)
        return np.asarray(values, dtype=dtype or backend.floatx())

    def sample(self, shape: Shape, rng: np.random.Generator) -> Array:
        raise NotImplementedError

    def get_config(self) -> dict[str, Any]:
        return {"seed": self.seed}


class Zeros(Initializer):
    """All zeros."""

    def sample(self, shape: Shape, rng: np.random.Generator) -> Array:
        return np.zeros(shape)


class Ones(Initializer):
    """All ones."""

    def sample(self, shape: Shape, rng: np.random.Generator) -> Array:
        return np.ones(shape)


class Constant(Initializer):
    """Every entry equal to ``value``."""

    def __init__(self, value: float = 0.0, seed: int | None = None) -> None:
        super().__init__(seed)
        self.value = float(value)

    def sample(self, shape: Shape, rng: np.random.Generator) -> Array:
        return np.full(shape, self.value)

    def get_config(self) -> dict[str, Any]:
        return {"value": self.value, "seed": self.seed}


class RandomNormal(Initializer):
    """N(mean, stddev^2)."""

    def __init__(self, mean: float = 0.0, stddev: float = 0.05, seed: int | None = None) -> None:
        super().__init__(seed)
        self.mean, self.stddev = float(mean), float(stddev)

    def sample(self, shape: Shape, rng: np.random.Generator) -> Array:
        return rng.normal(self.mean, self.stddev, size=shape)

    def get_config(self) -> dict[str, Any]:
        return {"mean": self.mean, "stddev": self.stddev, "seed": self.seed}


class RandomUniform(Initializer):
    """U(minval, maxval)."""

    def __init__(self, minval: float = -0.05, maxval: float = 0.05, seed: int | None = None) -> None:
        super().__init__(seed)
        self.minval, self.maxval = float(minval), float(maxval)

    def sample(self, shape: Shape, rng: np.random.Generator) -> Array:
        return rng.uniform(self.minval, self.maxval, size=shape)

    def get_config(self) -> dict[str, Any]:
        return {"minval": self.minval, "maxval": self.maxval, "seed": self.seed}


class _VarianceScaling(Initializer):
    """Normal N(0, scale / fan) or uniform U(+-sqrt(3 scale / fan)); subclasses pick scale and fan."""

    scale = 1.0
    mode = "fan_in"
    distribution = "normal"

    def sample(self, shape: Shape, rng: np.random.Generator) -> Array:
        fan_in, fan_out = compute_fans(shape)
        fan = {"fan_in": fan_in, "fan_out": fan_out, "fan_avg": (fan_in + fan_out) / 2}[self.mode]
        variance = self.scale / max(1.0, fan)
        if self.distribution == "normal":
            return rng.normal(0.0, math.sqrt(variance), size=shape)
        limit = math.sqrt(3.0 * variance)
        return rng.uniform(-limit, limit, size=shape)


class GlorotUniform(_VarianceScaling):
    """U(-s, s) with s = sqrt(6 / (fan_in + fan_out)) (Xavier uniform)."""

    mode, distribution = "fan_avg", "uniform"


class GlorotNormal(_VarianceScaling):
    """N(0, 2 / (fan_in + fan_out)) (Xavier normal)."""

    mode, distribution = "fan_avg", "normal"


class HeNormal(_VarianceScaling):
    """N(0, 2 / fan_in) (Kaiming normal); suits ReLU layers."""

    scale, distribution = 2.0, "normal"


class HeUniform(_VarianceScaling):
    """U(-s, s) with s = sqrt(6 / fan_in) (Kaiming uniform)."""

    scale, distribution = 2.0, "uniform"


class LecunNormal(_VarianceScaling):
    """N(0, 1 / fan_in); the initializer SELU's self-normalization assumes."""

    distribution = "normal"


class LecunUniform(_VarianceScaling):
    """U(-s, s) with s = sqrt(3 / fan_in)."""

    distribution = "uniform"


class Orthogonal(Initializer):
    """gain * Q with Q orthogonal: rows (or columns) orthonormal; the default recurrent kernel of RNNs.

    As Keras does: the shape is flattened to (rows, cols) = (prod(shape[:-1]), shape[-1]); a normal
    matrix A of shape (max(rows, cols), min(rows, cols)) is factored A = QR, Q's columns are multiplied
    by sign(diag(R)) (which makes Q uniformly distributed over orthogonal matrices, Mezzadri 2007), and
    Q is transposed when rows < cols. Keeps ||h W|| = ||h|| for square W, so a linear recurrence
    neither explodes nor vanishes at initialization.
    """

    def __init__(self, gain: float = 1.0, seed: int | None = None) -> None:
        super().__init__(seed)
        self.gain = float(gain)

    def sample(self, shape: Shape, rng: np.random.Generator) -> Array:
        if len(shape) < 2:
            raise ValueError(f"Orthogonal initializer needs a shape with at least 2 axes, got {shape}; "
                             "hint: use it for kernels such as recurrent_kernel (units, 4 * units)")
        rows, cols = math.prod(shape[:-1]), shape[-1]
        a = rng.normal(0.0, 1.0, size=(max(rows, cols), min(rows, cols)))
        q, r = np.linalg.qr(a)
        q *= np.sign(np.diag(r))
        if rows < cols:
            q = q.T
        return np.ascontiguousarray(self.gain * q.reshape(shape))  # C order: Q.T would be a Fortran view

    def get_config(self) -> dict[str, Any]:
        return {"gain": self.gain, "seed": self.seed}


INITIALIZERS = family("initializer", Initializer)
for _cls in (Zeros, Ones, Constant, RandomNormal, RandomUniform, GlorotUniform, GlorotNormal, HeNormal,
             HeUniform, LecunNormal, LecunUniform, Orthogonal):
    INITIALIZERS.register(_cls)
INITIALIZERS.alias("xavier_uniform", GlorotUniform)
INITIALIZERS.alias("xavier_normal", GlorotNormal)
INITIALIZERS.alias("uniform", RandomUniform)  # Keras: "uniform" is RandomUniform(-0.05, 0.05)
INITIALIZERS.alias("normal", RandomNormal)


def get(identifier: Any) -> Initializer:
    """Resolve a name such as ``"he_normal"``, a config dict or an ``Initializer``."""
    return INITIALIZERS.get(identifier)


def names() -> list[str]:
    return INITIALIZERS.names()


__all__ = ["Constant", "GlorotNormal", "GlorotUniform", "HeNormal", "HeUniform", "Initializer", "LecunNormal",
           "LecunUniform", "Ones", "Orthogonal", "RandomNormal", "RandomUniform", "Zeros", "compute_fans", "get",
           "names"]
