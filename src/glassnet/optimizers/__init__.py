"""Optimizers: ``opt.step(params)`` updates each trainable parameter from its ``.grad``.

The family in the order of the notes: SGD (momentum, Nesterov) -> Adagrad -> RMSprop -> Adam -> AdamW,
Nadam. Each is available by name in ``model.compile(optimizer="adam")``.
"""

from __future__ import annotations

from typing import Any

from .._registry import family
from .adagrad import Adagrad
from .adam import Adam, AdamW, Nadam
from .base import Optimizer
from .rmsprop import RMSprop
from .sgd import SGD

OPTIMIZERS = family("optimizer", Optimizer)
OPTIMIZERS.register(SGD, "sgd")
OPTIMIZERS.register(Adagrad, "adagrad")
OPTIMIZERS.register(RMSprop, "rmsprop")
OPTIMIZERS.register(Adam, "adam")
OPTIMIZERS.register(AdamW, "adamw")
OPTIMIZERS.register(Nadam, "nadam")


def get(identifier: Any) -> Optimizer:
    """Resolve a name such as ``"adam"``, a config dict or an ``Optimizer``."""
    return OPTIMIZERS.get(identifier, where="optimizer")


def names() -> list[str]:
    return OPTIMIZERS.names()


__all__ = ["SGD", "Adagrad", "Adam", "AdamW", "Nadam", "Optimizer", "RMSprop", "get", "names"]
