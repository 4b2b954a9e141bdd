"""An allocation budget for rebuilding a model from a file that nobody vouches for.

While ``load_model`` rebuilds the architecture, the weights file has already told it how many numbers
the model holds (the shapes in the ``.npy`` headers, checked against the bytes present). Every
initializer call and every layer build inside ``allocation_budget(n)`` is charged against that count
*before* any array is allocated, so a config that declares ``Dense(units=10**9)`` is refused with a
clear error instead of asking the machine for gigabytes. Outside the block nothing is checked.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass

from .errors import ModelFileError


@dataclass
class _Budget:
    left: int  # elements still allowed for parameters
    max_sample: int  # largest number of elements one sample (a layer's input) may have
    where: str


_ACTIVE: ContextVar[_Budget | None] = ContextVar("glassnet_allocation_budget", default=None)


@contextmanager
def allocation_budget(elements: int, max_sample: int, where: str) -> Iterator[None]:
    """Inside the block, parameters may hold at most ``elements`` numbers in all."""
    token = _ACTIVE.set(_Budget(int(elements), int(max_sample), where))
    try:
        yield
    finally:
        _ACTIVE.reset(token)


def _size(shape: tuple[int, ...], what: str, budget: _Budget) -> int:
    if shape and min(shape) < 0:
        raise ModelFileError(f"{budget.where}: {what} has a negative size in shape {shape}")
    return math.prod(shape)


def charge(shape: tuple[int, ...], what: str) -> bool:
    """Count an array of ``shape`` against the active budget; refuse it if it does not fit.

    Returns whether a budget is active, i.e. the array is about to be overwritten by loaded weights
    (so an initializer may skip drawing random numbers).
    """
    budget = _ACTIVE.get()
    if budget is None:
        return False
    n = _size(shape, what, budget)
    if n > budget.left:
        raise ModelFileError(
            f"{budget.where}: {what} asks for an array of shape {shape} ({n} numbers), but the weights in "
            f"the file hold only {budget.left} more; hint: the architecture in config.json does not match "
            "weights.npz (the file was edited or damaged)"
        )
    budget.left -= n
    return True


def check_input_shape(shape: tuple[int, ...], what: str) -> None:
    """Refuse a layer input shape that is negative or larger than the loader allows for one sample."""
    budget = _ACTIVE.get()
    if budget is None:
        return
    n = _size(shape, what, budget)
    if n > budget.max_sample:
        raise ModelFileError(
            f"{budget.where}: {what} takes inputs of shape {shape} ({n} numbers per sample), more than the "
            f"loader allows ({budget.max_sample}); hint: raise max_bytes if the file is trusted"
        )
