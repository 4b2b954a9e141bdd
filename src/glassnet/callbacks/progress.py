"""``ProgbarLogger``: Keras-like progress output.

verbose=1 on a terminal: one bar per epoch, redrawn at most 10 times a second, with rate, ETA, loss
and metrics. verbose=2, or output that is not a terminal: one line per epoch.
"""

from __future__ import annotations

import shutil
import sys
import time
from typing import Any, TextIO

from .._format import format_number
from .base import Callback, Logs

_BAR_WIDTH = 30


def format_logs(logs: Logs, skip: tuple[str, ...] = ()) -> str:
    parts = []
    for key, value in logs.items():
        if key in skip:
            continue
        if isinstance(value, float):
            parts.append(f"{key}: {value:.4g}" if key == "learning_rate" else f"{key}: {format_number(value)}")
        else:
            parts.append(f"{key}: {value}")
    return " - ".join(parts)


def _duration(seconds: float) -> str:
    if seconds >= 3600:
        return f"{seconds // 3600:.0f}h{(seconds % 3600) // 60:02.0f}m"
    if seconds >= 60:
        return f"{seconds // 60:.0f}m{seconds % 60:02.0f}s"
    if seconds >= 1:
        return f"{seconds:.1f}s"
    return f"{seconds * 1000:.0f}ms"


class ProgbarLogger(Callback):
    """Prints training progress; ``verbose`` 1 (bar) or 2 (one line per epoch)."""

    def __init__(self, verbose: int = 1, stream: TextIO | None = None) -> None:
        super().__init__()
        self.stream = stream or sys.stdout
        self.live = verbose == 1 and bool(getattr(self.stream, "isatty", lambda: False)())
        self._epoch_start = 0.0
        self._last_draw = 0.0

    def on_epoch_begin(self, epoch: int, logs: Logs | None = None) -> None:
        self._epoch_start = self._last_draw = time.perf_counter()
        self._epoch = epoch
        if self.live:
            self.stream.write(f"Epoch {epoch + 1}/{self.params.get('epochs', '?')}\n")

    def on_batch_end(self, batch: int, logs: Logs | None = None) -> None:
        now = time.perf_counter()
        steps = self.params.get("steps", 0)
        if now - self._last_draw < 0.1 and batch + 1 < steps:
            return
        self._last_draw = now
        done = batch + 1
        elapsed = now - self._epoch_start
        filled = int(_BAR_WIDTH * done / steps) if steps else _BAR_WIDTH
        bar = "=" * max(0, filled - 1) + (">" if filled < _BAR_WIDTH else "=") + "." * (_BAR_WIDTH - filled)
        eta = elapsed / done * (steps - done)
        rate = done / elapsed if elapsed > 0 else 0.0
        text = f"{done}/{steps} [{bar}] {rate:.0f} it/s - ETA {_duration(eta)} - {format_logs(logs or {})}"
        width = shutil.get_terminal_size((80, 24)).columns - 1  # a wrapped line could not be redrawn
        self.stream.write("\r" + text[:width] + "\x1b[K")
        self.stream.flush()

    @property
    def wants_batch_hooks(self) -> bool:
        return self.live

    def on_epoch_end(self, epoch: int, logs: Logs | None = None) -> None:
        elapsed = _duration(time.perf_counter() - self._epoch_start)
        line = format_logs(logs or {})
        if self.live:
            steps = self.params.get("steps", "?")
            self.stream.write(f"\r{steps}/{steps} - {elapsed} - {line}\x1b[K\n")
        else:
            self.stream.write(f"Epoch {epoch + 1}/{self.params.get('epochs', '?')} - {elapsed} - {line}\n")
        self.stream.flush()


def make_progress(verbose: Any) -> ProgbarLogger | None:
    """The progress callback for a ``verbose`` setting (0 or False: none)."""
    if not verbose:
        return None
    return ProgbarLogger(verbose=int(verbose))


class StepProgress:
    """``evaluate``/``predict`` progress for verbose=1 (as Keras): on a terminal a bar redrawn at most 10
    times a second, ``k/n [====>....] - ETA ... - loss: ...``; in every case one final line
    ``n/n - <time> - <logs>``. verbose=2 prints only the final line."""

    def __init__(self, steps: int, verbose: int = 1, stream: TextIO | None = None) -> None:
        self.stream = stream or sys.stdout
        self.steps = steps
        self.live = verbose == 1 and bool(getattr(self.stream, "isatty", lambda: False)())
        self._start = self._last_draw = time.perf_counter()

    def update(self, done: int, logs: Logs | None = None) -> None:
        now = time.perf_counter()
        if not self.live or (now - self._last_draw < 0.1 and done < self.steps):
            return
        self._last_draw = now
        filled = int(_BAR_WIDTH * done / self.steps) if self.steps else _BAR_WIDTH
        bar = "=" * max(0, filled - 1) + (">" if filled < _BAR_WIDTH else "=") + "." * (_BAR_WIDTH - filled)
        eta = (now - self._start) / done * (self.steps - done)
        text = f"{done}/{self.steps} [{bar}] - ETA {_duration(eta)} - {format_logs(logs or {})}"
        self.stream.write("\r" + text[: shutil.get_terminal_size((80, 24)).columns - 1] + "\x1b[K")
        self.stream.flush()

    def close(self, logs: Logs | None = None) -> None:
        elapsed = _duration(time.perf_counter() - self._start)
        line = " - ".join(part for part in (f"{self.steps}/{self.steps}", elapsed, format_logs(logs or {})) if part)
        self.stream.write(("\r" if self.live else "") + line + ("\x1b[K\n" if self.live else "\n"))
        self.stream.flush()


def make_step_progress(verbose: int, steps: int) -> StepProgress | None:
    """The progress display of ``evaluate``/``predict`` for ``verbose`` (0: none)."""
    return StepProgress(steps, verbose) if verbose else None
