"""Control of a running ``glassnet train``: stop cleanly on a signal, survive a closed pipe, resume.

* ``StopOnSignal``: the first SIGINT (Ctrl-C) or SIGTERM sets ``model.interrupted``; ``fit`` finishes
  the batch in progress and returns, and the run folder is written for the epochs done. A second signal
  acts as usual (Ctrl-C twice stops at once). It is not ``model.stop_training``: that flag is the run's
  own decision to end (EarlyStopping), which the backup records so a resume does not train on; a signal
  landing in the last batch or around the backup must leave a backup that resumes.
* ``PipeSafeStream``: when the reader of stdout goes away (``glassnet train | head -2``), the output is
  dropped and training goes on, so the run folder is still complete.
* ``resume_setup_source``: what ``glassnet train --resume RUN_DIR`` needs from a run folder.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import threading
from pathlib import Path
from types import FrameType
from typing import Any, TextIO

from ..errors import ConfigError

SIGNAL_NAMES = {signal.SIGINT: "SIGINT", signal.SIGTERM: "SIGTERM"}


class StopOnSignal:
    """Inside the block, SIGINT/SIGTERM ask ``model`` to stop after the current batch (``model.interrupted``)."""

    def __init__(self, model: Any) -> None:
        self.model = model
        self.signum: int | None = None
        self._previous: dict[int, Any] = {}

    def __enter__(self) -> StopOnSignal:
        self.model.interrupted = False
        if threading.current_thread() is threading.main_thread():
            for signum in SIGNAL_NAMES:
                self._previous[signum] = signal.signal(signum, self._handle)
        return self

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        self.signum = signum
        self.model.interrupted = True
        self._restore()  # a second signal is not caught: it stops at once

    def _restore(self) -> None:
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)
        self._previous = {}

    def __exit__(self, *exc: Any) -> None:
        self._restore()
        self.model.interrupted = False  # a later fit of this model is not stopped by this block's signal

    @property
    def exit_code(self) -> int:
        """128 + the signal number, as a shell reports a process ended by it (130 SIGINT, 143 SIGTERM)."""
        return 128 + int(self.signum or 0)

    @property
    def name(self) -> str:
        return SIGNAL_NAMES.get(self.signum or 0, str(self.signum))  # type: ignore[call-overload]


class PipeSafeStream:
    """A text stream that turns into /dev/null once its reader has gone (BrokenPipeError)."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream
        self.broken = False

    def _broke(self) -> None:
        self.broken = True
        with contextlib.suppress(OSError, ValueError, AttributeError):  # fd 1 too, for the exit-time flush
            os.dup2(os.open(os.devnull, os.O_WRONLY), self._stream.fileno())
        self._stream = open(os.devnull, "w")  # noqa: SIM115 - lives as long as the process

    def write(self, text: str) -> int:
        try:
            return self._stream.write(text)
        except BrokenPipeError:
            self._broke()
            return len(text)

    def flush(self) -> None:
        try:
            self._stream.flush()
        except BrokenPipeError:
            self._broke()

    def isatty(self) -> bool:
        return bool(getattr(self._stream, "isatty", lambda: False)())

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


def resume_source(run_dir: str | os.PathLike[str]) -> Path:
    """The run folder to resume, checked: it has its config and a backup, and did not finish."""
    folder = Path(run_dir)
    if not (folder / "config.toml").is_file():
        raise ConfigError(
            f"--resume {folder}: not a run folder (no config.toml); hint: give the folder that 'glassnet train' printed"
        )
    status = read_status(folder)
    if status == "completed":
        raise ConfigError(f"--resume {folder}: this run already finished; hint: start a new run instead")
    if not (folder / "backup" / "state.json").is_file():
        raise ConfigError(
            f"--resume {folder}: the run has no backup yet (it stopped before its first epoch "
            "ended); hint: start it again from its config.toml"
        )
    return folder


def read_status(folder: Path) -> str | None:
    try:
        return str(json.loads((folder / "metrics.json").read_text()).get("status"))
    except (OSError, ValueError, AttributeError):
        return None


__all__ = ["PipeSafeStream", "StopOnSignal", "read_status", "resume_source"]
