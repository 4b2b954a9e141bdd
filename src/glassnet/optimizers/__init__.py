"""Optimizers: ``opt.step(params)`` updates each trainable parameter from its ``.grad``."""

from __future__ import annotations

from typing import Any

from .._registry import Registry
from .base import Optimizer
from .sgd import SGD

_registry: Registry[Optimizer] = Registry("optimizer", Optimizer)
_registry.register(SGD, "sgd")


def get(identifier: Any) -> Optimizer:
    """Resolve a name such as ``"sgd"``, a config dict or an ``Optimizer``."""
    if isinstance(identifier, dict) and identifier.get("class_name") in _registry._classes:
        cls = _registry._classes[identifier["class_name"]]
        return cls.from_config(identifier.get("config", {}))  # type: ignore[no-any-return, attr-defined]
    return _registry.get(identifier)


def names() -> list[str]:
    return _registry.names()


__all__ = ["SGD", "Optimizer", "get", "names"]
