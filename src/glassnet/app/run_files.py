"""Files of a run folder, each written atomically (``glassnet.io.atomic_write``)."""

from __future__ import annotations

import csv
import io
import json
import math
import re
import time
from pathlib import Path
from typing import Any

from .._files import atomic_write


def make_run_dir(out: Path, name: str, now: float | None = None) -> Path:
    """Create ``out/<name>-<YYYYmmdd-HHMMSS>`` (suffixed ``-2``, ``-3``, ... if that exists) and return it."""
    stamp = time.strftime("%Y%m%d-%H%M%S", time.localtime(now))
    safe = re.sub(r"[^A-Za-z0-9_.-]+", "_", name).strip("._") or "run"
    out.mkdir(parents=True, exist_ok=True)
    for k in range(1, 1000):
        path = out / (f"{safe}-{stamp}" if k == 1 else f"{safe}-{stamp}-{k}")
        try:
            path.mkdir()
        except FileExistsError:
            continue
        return path
    raise FileExistsError(f"too many runs named {safe}-{stamp} in {out}")


def write_text(path: Path, text: str) -> None:
    atomic_write(path, lambda handle: handle.write(text.encode("utf-8")))


def _strict(data: Any) -> Any:
    """``data`` with every non-finite float replaced by ``None``: JSON has no inf or nan."""
    if isinstance(data, float):
        return data if math.isfinite(data) else None
    if isinstance(data, dict):
        return {k: _strict(v) for k, v in data.items()}
    if isinstance(data, (list, tuple)):
        return [_strict(v) for v in data]
    return data


def write_json(path: Path, data: Any) -> None:
    """Strict JSON (readable by any parser): inf and nan are written as ``null``."""
    write_text(path, json.dumps(_strict(data), indent=2, allow_nan=False) + "\n")


def write_history_csv(path: Path, history: dict[str, list[float]]) -> None:
    """Columns ``epoch`` (from 1) and every history key; floats in ``repr`` form, so runs compare exactly."""
    keys = list(history)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["epoch", *keys])
    n = max((len(v) for v in history.values()), default=0)
    for i in range(n):
        writer.writerow([i + 1, *(repr(float(history[k][i])) if i < len(history[k]) else "" for k in keys)])
    write_text(path, buffer.getvalue())


def read_history_csv(path: Path) -> dict[str, list[float]]:
    """The inverse of ``write_history_csv`` (without the epoch column)."""
    with open(path, newline="") as handle:
        rows = list(csv.DictReader(handle))
    keys = [k for k in (rows[0] if rows else {}) if k != "epoch"]
    return {k: [float(r[k]) for r in rows if r[k] != ""] for k in keys}


__all__ = ["make_run_dir", "read_history_csv", "write_history_csv", "write_json", "write_text"]
