"""``JSONLinesLogger``: one JSON object per epoch, a format any tool reads line by line (no TensorBoard)."""

from __future__ import annotations

import json
import math
import os
import time
from typing import Any, TextIO

import numpy as np

from .base import Callback, Logs


class JSONLinesLogger(Callback):
    """Append ``{"epoch": k, "time_s": ..., <every log value>}`` to ``filename``, one line per epoch.

    ``epoch`` counts from 0 as in Keras' ``CSVLogger``; ``time_s`` is the epoch's wall time. Each line is
    flushed at once (``tail -f`` works) and is strict JSON: NaN and Inf become ``null``. Unlike a CSV, a
    key that appears later (a metric added by another callback) is simply another field.
    ``append=False`` starts a new file at the start of ``fit``.
    """

    def __init__(self, filename: str | os.PathLike[str], append: bool = False) -> None:
        super().__init__()
        self.filename = os.fspath(filename)
        self.append = bool(append)
        self._file: TextIO | None = None
        self._started = 0.0

    def on_train_begin(self, logs: Logs | None = None) -> None:
        self._file = open(self.filename, "a" if self.append else "w", encoding="utf-8")  # noqa: SIM115

    def on_epoch_begin(self, epoch: int, logs: Logs | None = None) -> None:
        self._started = time.perf_counter()

    def on_epoch_end(self, epoch: int, logs: Logs | None = None) -> None:
        if self._file is None:
            self.on_train_begin()
        assert self._file is not None
        record: dict[str, Any] = {"epoch": epoch, "time_s": round(time.perf_counter() - self._started, 6)}
        record.update({key: _value(value) for key, value in (logs or {}).items()})
        self._file.write(json.dumps(record, allow_nan=False) + "\n")
        self._file.flush()

    def on_train_end(self, logs: Logs | None = None) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None


def _value(value: Any) -> Any:
    if isinstance(value, (np.floating, np.integer, np.bool_)):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value
