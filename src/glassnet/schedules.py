"""Learning-rate schedules: callables of the optimizer step (0, 1, 2, ...) that return a learning rate."""

from __future__ import annotations

from typing import Any

from ._registry import Registry


class LearningRateSchedule:
    """Base class: ``schedule(step) -> learning rate``."""

    def __call__(self, step: int) -> float:
        raise NotImplementedError

    def get_config(self) -> dict[str, Any]:
        raise NotImplementedError


_registry: Registry[LearningRateSchedule] = Registry("schedule", LearningRateSchedule)


def get(identifier: Any) -> LearningRateSchedule:
    """Resolve a schedule name, config dict or instance."""
    return _registry.get(identifier)


__all__ = ["LearningRateSchedule", "get"]
