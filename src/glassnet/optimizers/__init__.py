"""Optimizers: ``opt.step(params)`` updates each trainable parameter from its ``.grad``.

The family in the order of the notes: SGD (momentum, Nesterov) -> Adagrad -> RMSprop -> Adam -> AdamW,
Nadam. Each is available by name in ``model.compile(optimizer="adam")``.
"""

from __future__ import annotations

from typing import Any

from .._registry import Registry
from .adagrad import Adagrad
from .adam import Adam, AdamW, Nadam
from .base import Optimizer
from .rmsprop import RMSprop
from .sgd import SGD

_registry: Registry[Optimizer] = Registry("optimizer", Optimizer)
_registry.register(SGD, "sgd")
_registry.register(Adagrad, "adagrad")
_registry.register(RMSprop, "rmsprop")
_registry.register(Adam, "adam")
_registry.register(AdamW, "adamw")
_registry.register(Nadam, "nadam")


def get(identifier: Any) -> Optimizer:
    """Resolve a name such as ``"adam"``, a config dict or an ``Optimizer``."""
    if isinstance(identifier, dict) and identifier.get("class_name") in _registry._classes:
        cls = _registry._classes[identifier["class_name"]]
        return cls.from_config(identifier.get("config", {}))  # type: ignore[no-any-return, attr-defined]
    return _registry.get(identifier, where="optimizer")


def names() -> list[str]:
    return _registry.names()


__all__ = ["SGD", "Adagrad", "Adam", "AdamW", "Nadam", "Optimizer", "RMSprop", "get", "names"]
