"""``TerminateOnNaN``: stop at the first non-finite loss and keep the last finite weights."""

from __future__ import annotations

import math
import sys
from typing import Any

import numpy as np

from .base import Callback, Logs


class TerminateOnNaN(Callback):
    """Stop training at the first batch whose loss is NaN or Inf; the model keeps its last finite weights.

    The batch that reports a NaN loss has already run its optimizer step, so its weights are usually NaN
    too. Before every batch the callback copies all parameters (trainable and moving statistics) into
    one of two reused snapshot buffers. When a loss turns non-finite it restores the weights that batch
    started from if they are finite, otherwise those of the batch before (whose loss was finite), and
    sets ``model.stop_training``. ``fit`` ends at the end of the epoch; batches that still run in that
    epoch are undone the same way, so the weights after ``fit`` are the restored ones.

    Attributes: ``stopped_batch`` and ``stopped_epoch`` (0-based) where the loss first became
    non-finite, ``None`` if it never did.
    """

    def __init__(self, verbose: int = 1) -> None:
        super().__init__()
        self.verbose = verbose
        self.stopped_epoch: int | None = None
        self.stopped_batch: int | None = None
        self._current: list[Any] = []
        self._previous: list[Any] = []
        self._restore: list[Any] | None = None
        self._epoch = 0

    def on_train_begin(self, logs: Logs | None = None) -> None:
        self.stopped_epoch = self.stopped_batch = None
        self._restore = None
        self._current = [p.value.copy() for p in self.model.parameters()]
        self._previous = [a.copy() for a in self._current]

    def on_epoch_begin(self, epoch: int, logs: Logs | None = None) -> None:
        self._epoch = epoch

    def on_batch_begin(self, batch: int, logs: Logs | None = None) -> None:
        if self._restore is not None:
            return
        # two buffers swapped, not reallocated: _previous holds the weights the last batch started from
        self._current, self._previous = self._previous, self._current
        for buffer, param in zip(self._current, self.model.parameters(), strict=True):
            np.copyto(buffer, param.value)

    def on_batch_end(self, batch: int, logs: Logs | None = None) -> None:
        if self._restore is None:
            loss = (logs or {}).get("loss")
            if loss is None or math.isfinite(float(loss)):
                return
            self._trip(batch, loss)
        self._load(self._restore)

    def _trip(self, batch: int, loss: Any) -> None:
        self.stopped_epoch, self.stopped_batch = self._epoch, batch
        finite = all(np.isfinite(a).all() for a in self._current)
        self._restore = self._current if finite else self._previous
        self.model.stop_training = True
        if self.verbose:
            sys.stdout.write(
                f"Batch {batch} of epoch {self._epoch + 1}: invalid loss {loss}, terminating "
                "training and keeping the last finite weights\n"
            )

    def _load(self, arrays: list[Any] | None) -> None:
        if arrays is not None:
            for param, value in zip(self.model.parameters(), arrays, strict=True):
                param.value = value

    def on_epoch_end(self, epoch: int, logs: Logs | None = None) -> None:
        self._load(self._restore)
