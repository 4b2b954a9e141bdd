"""``EarlyStopping``: stop when a monitored quantity stops improving (Keras semantics)."""

from __future__ import annotations

import sys
from typing import Any

from ..errors import ConfigError
from ._monitor import improved, initial_best, monitor_value, resolve_mode
from .base import Callback, Logs


class EarlyStopping(Callback):
    """Stop training once ``monitor`` has not improved for ``patience`` epochs.

    An epoch improves when its value beats the best so far by more than ``min_delta`` (lower is better
    in "min" mode, higher in "max"; "auto" maximizes accuracy-like names). ``wait`` counts epochs since
    the last improvement; once ``wait >= patience`` (and it is not the first epoch) ``fit`` stops after
    the current epoch. With val_loss 0.50, 0.40, 0.35, 0.36, 0.38 and ``patience=2``, epoch 3 is the best,
    epochs 4 and 5 do not improve, and training stops after epoch 5.

    Args:
        monitor: Key of the epoch logs to watch, e.g. "val_loss" or "val_accuracy".
        min_delta: Smallest change that counts as an improvement.
        patience: Epochs without improvement tolerated before stopping.
        mode: "auto", "min" or "max".
        baseline: The counter is reset only by values that also beat this baseline.
        restore_best_weights: At the end of training (stopped early or not) load the weights of the best
            epoch, all parameters including moving statistics.
        start_from_epoch: Epochs ignored at the start (warm-up).
        verbose: 1 prints when it stops and restores.

    Attributes: ``stopped_epoch`` and ``best_epoch`` are 0-based epoch indices as in Keras (the notes'
    "stops after epoch 5" is ``stopped_epoch == 4``); ``stopped_epoch`` is 0 if training was not stopped.
    """

    def __init__(
        self,
        monitor: str = "val_loss",
        min_delta: float = 0.0,
        patience: int = 0,
        mode: str = "auto",
        baseline: float | None = None,
        restore_best_weights: bool = False,
        start_from_epoch: int = 0,
        verbose: int = 0,
    ) -> None:
        super().__init__()
        self.patience = _count("patience", patience)
        self.start_from_epoch = _count("start_from_epoch", start_from_epoch)
        self.monitor = monitor
        self.min_delta = abs(float(min_delta))
        self.mode = resolve_mode("EarlyStopping", monitor, mode)
        self.baseline = None if baseline is None else float(baseline)
        self.restore_best_weights = bool(restore_best_weights)
        self.verbose = verbose
        self.on_train_begin()

    def on_train_begin(self, logs: Logs | None = None) -> None:
        self.wait = 0
        self.stopped_epoch = 0
        self.best = initial_best(self.mode)
        self.best_epoch = 0
        self.best_weights: list[Any] | None = None

    def on_epoch_end(self, epoch: int, logs: Logs | None = None) -> None:
        current = monitor_value("EarlyStopping", self.monitor, logs)
        if epoch < self.start_from_epoch:
            return
        if self.restore_best_weights and self.best_weights is None:
            self.best_weights = self.model.get_weights()  # until something improves, the first is the best
            self.best_epoch = epoch
        self.wait += 1
        if improved(self.mode, current, self.best, self.min_delta):
            self.best, self.best_epoch = current, epoch
            if self.restore_best_weights:
                self.best_weights = self.model.get_weights()
            if self.baseline is None or improved(self.mode, current, self.baseline, self.min_delta):
                self.wait = 0
            return
        if self.wait >= self.patience and epoch > 0:
            self.stopped_epoch = epoch
            self.model.stop_training = True

    def on_train_end(self, logs: Logs | None = None) -> None:
        if self.stopped_epoch > 0 and self.verbose:
            sys.stdout.write(f"Epoch {self.stopped_epoch + 1}: early stopping\n")
        if self.restore_best_weights and self.best_weights is not None:
            if self.verbose:
                sys.stdout.write(
                    f"Restoring model weights from the end of the best epoch: {self.best_epoch + 1}.\n"
                )
            self.model.set_weights(self.best_weights)


def _count(name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ConfigError(f"EarlyStopping: {name} must be an integer >= 0, got {value!r}")
    return value
