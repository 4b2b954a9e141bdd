"""``CSVLogger``: one CSV row per epoch with every value of the epoch logs."""

from __future__ import annotations

import csv
import os
from typing import Any, TextIO

import numpy as np

from .base import Callback, Logs


class CSVLogger(Callback):
    """Write ``epoch`` (0-based, as Keras) and the epoch logs, in sorted key order, to ``filename``.

    The header is taken from the first epoch's keys; each row is flushed at once, so the file can be
    followed while training runs. ``append=True`` continues an existing file (no second header).
    """

    def __init__(self, filename: str | os.PathLike[str], separator: str = ",", append: bool = False) -> None:
        super().__init__()
        self.filename = os.fspath(filename)
        self.separator = separator
        self.append = bool(append)
        self._file: TextIO | None = None
        self._writer: Any = None
        self._keys: list[str] | None = None

    def on_train_begin(self, logs: Logs | None = None) -> None:
        has_rows = self.append and os.path.exists(self.filename) and os.path.getsize(self.filename) > 0
        self._file = open(self.filename, "a" if self.append else "w", newline="", encoding="utf-8")  # noqa: SIM115
        self._writer = None
        self._keys = None
        self._skip_header = has_rows

    def on_epoch_end(self, epoch: int, logs: Logs | None = None) -> None:
        logs = logs or {}
        if self._file is None:
            self.on_train_begin()
        assert self._file is not None
        if self._keys is None:
            self._keys = sorted(logs)
            self._writer = csv.writer(self._file, delimiter=self.separator)
            if not self._skip_header:
                self._writer.writerow(["epoch", *self._keys])
        self._writer.writerow([epoch, *(_format(logs.get(k, "")) for k in self._keys)])
        self._file.flush()

    def on_train_end(self, logs: Logs | None = None) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None


def _format(value: Any) -> Any:
    """Floats at full precision (``repr``), so the file round-trips the logged values exactly."""
    return repr(float(value)) if isinstance(value, (float, np.floating)) else value
