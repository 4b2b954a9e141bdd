"""Global settings: the default float type, the default random generator and the automatic layer names."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np

from .errors import ConfigError

_FLOATX = "float32"
_VALID_FLOATX = ("float16", "float32", "float64")
_generator = np.random.default_rng()
_name_counts: dict[str, int] = {}


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


def unique_name(base: str) -> str:
    """``base`` the first time it is asked for in this process, then ``base_1``, ``base_2``, ... (how
    Keras names layers: two standalone ``Dense()`` are ``dense`` and ``dense_1``, never both ``dense``)."""
    count = _name_counts.get(base, 0)
    _name_counts[base] = count + 1
    return base if count == 0 else f"{base}_{count}"


def clear_session() -> None:
    """Start the automatic names over (the next ``Dense()`` is ``dense`` again), as Keras's
    ``clear_session`` does; layers that already exist keep their names."""
    _name_counts.clear()
