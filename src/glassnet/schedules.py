"""Learning-rate schedules: callables of the optimizer step (0, 1, 2, ...) that return a learning rate.

Pass one as ``learning_rate`` to any optimizer; it is evaluated at ``optimizer.iterations`` before
every step, so ``schedule(0)`` is the rate of the first update.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from ._registry import family
from .errors import ConfigError, check_positive


def _positive(owner: str, name: str, value: Any, allow_zero: bool = False) -> float:
    return check_positive(name, value, allow_zero=allow_zero, owner=owner)


class LearningRateSchedule:
    """Base class: ``schedule(step) -> learning rate``; subclasses define ``__call__`` and ``get_config``."""

    def __call__(self, step: int) -> float:
        raise NotImplementedError

    def get_config(self) -> dict[str, Any]:
        raise NotImplementedError

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> LearningRateSchedule:
        return cls(**config)

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{type(self).__name__}({args})"


class ExponentialDecay(LearningRateSchedule):
    """lr(step) = initial_learning_rate * decay_rate^(step / decay_steps); with ``staircase`` the
    exponent is floor(step / decay_steps), so the rate drops by ``decay_rate`` every ``decay_steps``."""

    def __init__(
        self, initial_learning_rate: float, decay_steps: int, decay_rate: float, staircase: bool = False
    ) -> None:
        self.initial_learning_rate = _positive(
            "ExponentialDecay", "initial_learning_rate", initial_learning_rate
        )
        self.decay_steps = int(_positive("ExponentialDecay", "decay_steps", decay_steps))
        self.decay_rate = _positive("ExponentialDecay", "decay_rate", decay_rate)
        self.staircase = bool(staircase)

    def __call__(self, step: int) -> float:
        exponent = step / self.decay_steps
        if self.staircase:
            exponent = math.floor(exponent)
        return self.initial_learning_rate * self.decay_rate**exponent

    def get_config(self) -> dict[str, Any]:
        return {
            "initial_learning_rate": self.initial_learning_rate,
            "decay_steps": self.decay_steps,
            "decay_rate": self.decay_rate,
            "staircase": self.staircase,
        }


class InverseTimeDecay(LearningRateSchedule):
    """lr(step) = initial_learning_rate / (1 + decay_rate * step / decay_steps); ``staircase`` floors
    step / decay_steps. The 1/t decay of classical stochastic approximation."""

    def __init__(
        self, initial_learning_rate: float, decay_steps: int, decay_rate: float, staircase: bool = False
    ) -> None:
        self.initial_learning_rate = _positive(
            "InverseTimeDecay", "initial_learning_rate", initial_learning_rate
        )
        self.decay_steps = int(_positive("InverseTimeDecay", "decay_steps", decay_steps))
        self.decay_rate = _positive("InverseTimeDecay", "decay_rate", decay_rate, allow_zero=True)
        self.staircase = bool(staircase)

    def __call__(self, step: int) -> float:
        ratio = step / self.decay_steps
        if self.staircase:
            ratio = math.floor(ratio)
        return self.initial_learning_rate / (1.0 + self.decay_rate * ratio)

    def get_config(self) -> dict[str, Any]:
        return {
            "initial_learning_rate": self.initial_learning_rate,
            "decay_steps": self.decay_steps,
            "decay_rate": self.decay_rate,
            "staircase": self.staircase,
        }


class PiecewiseConstantDecay(LearningRateSchedule):
    """lr(step) = values[0] for step <= boundaries[0], values[i] for boundaries[i-1] < step <= boundaries[i],
    values[-1] after the last boundary (Keras's convention). Needs len(values) == len(boundaries) + 1."""

    def __init__(self, boundaries: Sequence[int], values: Sequence[float]) -> None:
        self.boundaries = [int(b) for b in boundaries]
        self.values = [_positive("PiecewiseConstantDecay", "values", v, allow_zero=True) for v in values]
        if len(self.values) != len(self.boundaries) + 1:
            raise ConfigError(
                f"PiecewiseConstantDecay: values must have one more entry than boundaries, got "
                f"{len(self.values)} values for {len(self.boundaries)} boundaries; hint: boundaries=[100], "
                "values=[0.1, 0.01]"
            )
        if any(b >= c for b, c in zip(self.boundaries[:-1], self.boundaries[1:], strict=True)):
            raise ConfigError(
                f"PiecewiseConstantDecay: boundaries must increase strictly, got {self.boundaries}"
            )

    def __call__(self, step: int) -> float:
        for boundary, value in zip(self.boundaries, self.values[:-1], strict=True):
            if step <= boundary:
                return value
        return self.values[-1]

    def get_config(self) -> dict[str, Any]:
        return {"boundaries": list(self.boundaries), "values": list(self.values)}


class StepDecay(LearningRateSchedule):
    """lr(step) = initial_learning_rate * factor^floor(step / step_size): divide the rate by 1/factor
    every ``step_size`` steps (PyTorch's StepLR; ExponentialDecay with staircase=True, spelled plainly)."""

    def __init__(self, initial_learning_rate: float, step_size: int, factor: float = 0.5) -> None:
        self.initial_learning_rate = _positive("StepDecay", "initial_learning_rate", initial_learning_rate)
        self.step_size = int(_positive("StepDecay", "step_size", step_size))
        self.factor = _positive("StepDecay", "factor", factor)

    def __call__(self, step: int) -> float:
        return self.initial_learning_rate * self.factor ** (step // self.step_size)

    def get_config(self) -> dict[str, Any]:
        return {
            "initial_learning_rate": self.initial_learning_rate,
            "step_size": self.step_size,
            "factor": self.factor,
        }


class CosineDecay(LearningRateSchedule):
    """Optional linear warmup, then a half cosine from initial_learning_rate down to alpha times it.

        warmup (step < warmup_steps):  lr = initial_learning_rate * (step + 1) / warmup_steps
        then, with s = min(step - warmup_steps, decay_steps):
            lr = initial_learning_rate * ((1 - alpha) * 0.5 * (1 + cos(pi s / decay_steps)) + alpha)

    The warmup starts at initial / warmup_steps (not 0, which would waste the first step) and reaches
    the initial rate at the first cosine step; after decay_steps the rate stays at alpha * initial.
    """

    def __init__(
        self, initial_learning_rate: float, decay_steps: int, alpha: float = 0.0, warmup_steps: int = 0
    ) -> None:
        self.initial_learning_rate = _positive("CosineDecay", "initial_learning_rate", initial_learning_rate)
        self.decay_steps = int(_positive("CosineDecay", "decay_steps", decay_steps))
        self.alpha = _positive("CosineDecay", "alpha", alpha, allow_zero=True)
        if self.alpha > 1.0:
            raise ConfigError(
                f"CosineDecay: alpha (final fraction of the rate) must be in [0, 1], got {alpha!r}"
            )
        self.warmup_steps = int(_positive("CosineDecay", "warmup_steps", warmup_steps, allow_zero=True))

    def __call__(self, step: int) -> float:
        if step < self.warmup_steps:
            return self.initial_learning_rate * (step + 1) / self.warmup_steps
        s = min(step - self.warmup_steps, self.decay_steps)
        cosine = 0.5 * (1.0 + math.cos(math.pi * s / self.decay_steps))
        return self.initial_learning_rate * ((1.0 - self.alpha) * cosine + self.alpha)

    def get_config(self) -> dict[str, Any]:
        return {
            "initial_learning_rate": self.initial_learning_rate,
            "decay_steps": self.decay_steps,
            "alpha": self.alpha,
            "warmup_steps": self.warmup_steps,
        }


SCHEDULES = family("schedule", LearningRateSchedule)
for _cls in (ExponentialDecay, InverseTimeDecay, PiecewiseConstantDecay, StepDecay, CosineDecay):
    SCHEDULES.register(_cls)


def get(identifier: Any) -> LearningRateSchedule:
    """Resolve a schedule config dict (``{"class_name": ..., "config": ...}``) or instance."""
    return SCHEDULES.get(identifier, where="learning_rate")


def names() -> list[str]:
    return SCHEDULES.names()


__all__ = [
    "CosineDecay",
    "ExponentialDecay",
    "InverseTimeDecay",
    "LearningRateSchedule",
    "PiecewiseConstantDecay",
    "StepDecay",
    "get",
    "names",
]
