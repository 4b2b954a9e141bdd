"""Atomic file writes: a file is either the old one or the complete new one, never half written.

The temporary file is ``.<name>.<pid>-<random>.tmp`` beside the target. A save killed with SIGKILL
leaves its temporary file behind; the next save of the same target removes every such file whose
process is gone (or that is older than a day, when its name carries no process id). The finished
file gets the permissions of a newly created file (0666 minus the umask), not mkstemp's 0600.
"""

from __future__ import annotations

import os
import re
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

_UMASK_LOCK = threading.Lock()
_IN_FLIGHT: set[str] = set()  # temporary files this process is writing right now
_STALE_AFTER_S = 24 * 3600


def _umask() -> int:
    with _UMASK_LOCK:  # os.umask can only be read by setting it
        mask = os.umask(0o022)
        os.umask(mask)
    return mask


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError):
        return True  # exists, owned by someone else
    return True


def remove_stale_temporaries(target: Path) -> list[Path]:
    """Delete the leftover temporary files of earlier, killed writes of ``target``; returns them."""
    pattern = re.compile(rf"\.{re.escape(target.name)}\.(?:(\d+)-)?[^/]*\.tmp")
    removed: list[Path] = []
    try:
        candidates = list(target.parent.iterdir())
    except OSError:
        return removed
    for path in candidates:
        match = pattern.fullmatch(path.name)
        if match is None or str(path) in _IN_FLIGHT:
            continue
        pid = int(match.group(1)) if match.group(1) else None
        try:
            stale = (pid is not None and (pid == os.getpid() or not _alive(pid))) or (
                pid is None and time.time() - path.stat().st_mtime > _STALE_AFTER_S
            )
            if stale:
                path.unlink()
                removed.append(path)
        except OSError:
            continue  # removed meanwhile by another writer, or not ours to remove
    return removed


def atomic_write(path: str | os.PathLike[str], write: Callable[[Any], None], mode: str = "wb") -> None:
    """Call ``write(file)`` on a temporary file next to ``path``, then rename it into place."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temporaries(target)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.{os.getpid()}-", suffix=".tmp", dir=target.parent)
    _IN_FLIGHT.add(tmp)
    try:
        os.fchmod(fd, 0o666 & ~_umask())
        with os.fdopen(fd, mode) as handle:
            write(handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, target)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    finally:
        _IN_FLIGHT.discard(tmp)
