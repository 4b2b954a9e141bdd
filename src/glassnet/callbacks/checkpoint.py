"""``ModelCheckpoint``: save the model after each epoch, or only when the monitored value improves."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from ..errors import ConfigError
from ._monitor import improved, initial_best, monitor_value, resolve_mode
from .base import Callback, Logs


class ModelCheckpoint(Callback):
    """Write the model with ``model.save`` (atomic: a temporary file renamed into place) at epoch ends.

    Args:
        path: File to write; may hold ``{epoch}`` (1-based) and log keys, e.g.
            ``"ckpt/model-{epoch:02d}-{val_loss:.3f}.glassnet"``.
        monitor: Log key compared when ``save_best_only`` (a missing key is an error naming the keys).
        save_best_only: Save only when ``monitor`` improves on the best value so far.
        mode: "auto", "min" or "max" (as in ``EarlyStopping``).
        include_optimizer: Also store the optimizer state (to resume training).
        verbose: 1 prints each save.

    Attributes: ``best`` (best monitored value), ``last_path`` (the file written last, or ``None``).
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        monitor: str = "val_loss",
        save_best_only: bool = False,
        mode: str = "auto",
        include_optimizer: bool = False,
        verbose: int = 0,
    ) -> None:
        super().__init__()
        self.path = os.fspath(path)
        if not self.path:
            raise ConfigError("ModelCheckpoint: path must be a non-empty file name, got ''")
        self.monitor = monitor
        self.save_best_only = bool(save_best_only)
        self.mode = resolve_mode("ModelCheckpoint", monitor, mode)
        self.include_optimizer = bool(include_optimizer)
        self.verbose = verbose
        self.best = initial_best(self.mode)
        self.last_path: str | None = None

    def on_train_begin(self, logs: Logs | None = None) -> None:
        self.best = initial_best(self.mode)

    def on_epoch_end(self, epoch: int, logs: Logs | None = None) -> None:
        logs = logs or {}
        if self.save_best_only:
            current = monitor_value("ModelCheckpoint", self.monitor, logs)
            if not improved(self.mode, current, self.best):
                return
            self.best = current
        target = self._format_path(epoch, logs)
        self.model.save(target, include_optimizer=self.include_optimizer)
        self.last_path = target
        if self.verbose:
            sys.stdout.write(f"Epoch {epoch + 1}: saved model to {target}\n")

    def _format_path(self, epoch: int, logs: Logs) -> str:
        try:
            return str(Path(self.path.format(epoch=epoch + 1, **logs)))
        except (KeyError, IndexError, ValueError) as exc:
            raise ConfigError(
                f"ModelCheckpoint: cannot fill path {self.path!r} ({exc!r}); available fields: "
                f"epoch, {', '.join(sorted(logs))}"
            ) from None
