"""Callbacks that change the learning rate between epochs.

Both set ``model.optimizer.learning_rate`` to a float; ``fit`` records the rate each epoch actually used
in ``history.history["learning_rate"]``. A per-step schedule belongs in the optimizer instead
(``learning_rate=gn.schedules.ExponentialDecay(...)``), so these refuse an optimizer that has one.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Callable
from typing import Any

from ..errors import ConfigError, StateError
from .base import Callback, Logs


def _optimizer_of(callback: Callback) -> Any:
    model = callback.model
    optimizer = getattr(model, "optimizer", None)
    if optimizer is None:
        raise StateError(
            f"{type(callback).__name__}: the model has no optimizer; hint: call model.compile first"
        )
    if callable(optimizer.learning_rate):
        raise ConfigError(
            f"{type(callback).__name__}: the optimizer's learning_rate is already a schedule "
            f"({optimizer.learning_rate!r}); hint: use either a schedule or this callback, not both"
        )
    return optimizer


def _set_rate(callback: Callback, optimizer: Any, rate: Any) -> float:
    value = float(rate)
    if not (value >= 0 and math.isfinite(value)):
        raise ConfigError(
            f"{type(callback).__name__}: new learning rate must be a finite number >= 0, got {rate!r}"
        )
    optimizer.learning_rate = value
    return value


class LearningRateScheduler(Callback):
    """Before each epoch: lr = schedule(epoch, lr), with epoch counted from 0.

    Args:
        schedule: ``fn(epoch: int, lr: float) -> float``.
        verbose: 1 prints each change.
    """

    def __init__(self, schedule: Callable[[int, float], float], verbose: int = 0) -> None:
        super().__init__()
        if not callable(schedule):
            raise ConfigError(
                f"LearningRateScheduler: schedule must be a function fn(epoch, lr), got {schedule!r}"
            )
        self.schedule = schedule
        self.verbose = verbose

    def on_epoch_begin(self, epoch: int, logs: Logs | None = None) -> None:
        optimizer = _optimizer_of(self)
        old = float(optimizer.learning_rate)
        new = _set_rate(self, optimizer, self.schedule(epoch, old))
        if self.verbose and new != old:
            sys.stdout.write(f"Epoch {epoch + 1}: LearningRateScheduler sets learning rate to {new:.4g}\n")


class ReduceLROnPlateau(Callback):
    """Multiply the learning rate by ``factor`` when ``monitor`` stops improving for ``patience`` epochs.

    An epoch improves when the value beats the best so far by more than ``min_delta`` (lower for
    mode "min", higher for "max"; "auto" picks "max" for accuracy-like names). After ``patience``
    epochs in a row without improvement: lr = max(lr * factor, min_lr), the count restarts, and
    the next ``cooldown`` epochs are not counted (the best value is still tracked during them).
    """

    def __init__(
        self,
        monitor: str = "val_loss",
        factor: float = 0.1,
        patience: int = 10,
        min_delta: float = 1e-4,
        min_lr: float = 0.0,
        mode: str = "auto",
        cooldown: int = 0,
        verbose: int = 0,
    ) -> None:
        super().__init__()
        if not 0.0 < float(factor) < 1.0:
            raise ConfigError(
                f"ReduceLROnPlateau: factor must be in (0, 1), got {factor!r}; hint: 0.1 or 0.5"
            )
        if mode not in ("auto", "min", "max"):
            raise ConfigError(f"ReduceLROnPlateau: mode must be 'auto', 'min' or 'max', got {mode!r}")
        if int(patience) < 0 or int(cooldown) < 0 or float(min_delta) < 0 or float(min_lr) < 0:
            raise ConfigError(
                f"ReduceLROnPlateau: patience, cooldown, min_delta and min_lr must be >= 0, got "
                f"{patience!r}, {cooldown!r}, {min_delta!r}, {min_lr!r}"
            )
        self.monitor, self.factor, self.patience = monitor, float(factor), int(patience)
        self.min_delta, self.min_lr, self.cooldown, self.verbose = (
            float(min_delta),
            float(min_lr),
            int(cooldown),
            verbose,
        )
        if mode == "auto":
            mode = "max" if any(k in monitor for k in ("acc", "auc", "precision", "recall")) else "min"
        self.mode = mode
        self.reset()

    def reset(self) -> None:
        self.best = math.inf if self.mode == "min" else -math.inf
        self.wait = 0
        self.cooldown_counter = 0

    def on_train_begin(self, logs: Logs | None = None) -> None:
        self.reset()

    def _improved(self, value: float) -> bool:
        if self.mode == "min":
            return value < self.best - self.min_delta
        return value > self.best + self.min_delta

    def on_epoch_end(self, epoch: int, logs: Logs | None = None) -> None:
        logs = logs or {}
        if self.monitor not in logs:
            raise ConfigError(
                f"ReduceLROnPlateau: monitor {self.monitor!r} is not in the epoch logs {sorted(logs)}; "
                "hint: 'val_*' keys need validation_data or validation_split"
            )
        value = float(logs[self.monitor])
        improved = self._improved(value)
        if improved:
            self.best = value
        if self.cooldown_counter > 0:  # the epochs right after a reduction are not counted
            self.cooldown_counter -= 1
            return
        if improved:
            self.wait = 0
            return
        self.wait += 1
        if self.wait >= self.patience:
            optimizer = _optimizer_of(self)
            old = float(optimizer.learning_rate)
            new = _set_rate(self, optimizer, max(old * self.factor, self.min_lr))
            self.wait, self.cooldown_counter = 0, self.cooldown
            if self.verbose and new != old:
                sys.stdout.write(f"Epoch {epoch + 1}: ReduceLROnPlateau reduces learning rate to {new:.4g}\n")
