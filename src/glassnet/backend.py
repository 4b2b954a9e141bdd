"""Global numeric settings: the default float type and the default random generator."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np

from .errors import ConfigError

_FLOATX = "float32"
_VALID_FLOATX = ("float16", "float32", "float64")
_generator = np.random.default_rng()


def floatx() -> str:
    """Name of the default float dtype for parameters and data ("float32" unless set)."""
    return _FLOATX


def set_floatx(dtype: str) -> None:
    """Set the default float dtype: one of "float16", "float32", "float64"."""
    global _FLOATX
    name = np.dtype(dtype).name if not isinstance(dtype, str) else dtype
    if name not in _VALID_FLOATX:
        raise ConfigError(f"floatx must be one of {', '.join(_VALID_FLOATX)}, got {dtype!r}")
    _FLOATX = name


def set_seed(seed: int | None) -> None:
    """Seed glassnet's default generator, used wherever no explicit seed is given."""
    global _generator
    _generator = np.random.default_rng(seed)


def generator() -> np.random.Generator:
    """glassnet's default generator (seeded by ``set_seed``)."""
    return _generator


def make_generator(seed: int | np.random.Generator | None) -> np.random.Generator:
    """A generator from a seed; ``None`` draws a child seed from the default generator."""
    if isinstance(seed, np.random.Generator):
        return seed
    if seed is None:
        return np.random.default_rng(_generator.integers(0, 2**63 - 1))
    return np.random.default_rng(seed)


@contextmanager
def using_generator(rng: np.random.Generator) -> Iterator[None]:
    """Make ``rng`` the default generator inside the block (e.g. to build a model from a fit seed)."""
    global _generator
    saved, _generator = _generator, rng
    try:
        yield
    finally:
        _generator = saved
