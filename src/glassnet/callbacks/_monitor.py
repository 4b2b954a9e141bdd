"""Reading a monitored quantity from ``logs`` and deciding whether it improved (shared by callbacks)."""

from __future__ import annotations

import math
from typing import Any

from ..errors import ConfigError

_MAXIMIZED = ("acc", "accuracy", "auc", "precision", "recall", "f1", "f1_score")


def resolve_mode(who: str, monitor: str, mode: str) -> str:
    """``"min"`` or ``"max"``; ``"auto"`` maximizes accuracy-like names such as val_accuracy."""
    if mode not in ("auto", "min", "max"):
        raise ConfigError(f"{who}: mode must be 'auto', 'min' or 'max', got {mode!r}")
    if mode != "auto":
        return mode
    base = monitor[4:] if monitor.startswith("val_") else monitor
    return "max" if base in _MAXIMIZED else "min"


def monitor_value(who: str, monitor: str, logs: dict[str, Any] | None) -> float:
    """``logs[monitor]`` as a float, or a clear error listing the keys that exist."""
    logs = logs or {}
    if monitor not in logs:
        available = ", ".join(sorted(logs)) or "(none)"
        hint = (
            " hint: val_ keys exist only when fit gets validation_data or validation_split"
            if monitor.startswith("val_")
            else ""
        )
        raise ConfigError(
            f"{who}: monitored key {monitor!r} is not in the epoch logs; available keys: "
            f"{available};{hint or ' hint: pass one of the available keys as monitor='}"
        )
    return float(logs[monitor])


def initial_best(mode: str) -> float:
    return math.inf if mode == "min" else -math.inf


def improved(mode: str, current: float, reference: float, min_delta: float = 0.0) -> bool:
    """min mode: current < reference - min_delta; max mode: current > reference + min_delta."""
    if mode == "min":
        return current < reference - min_delta
    return current > reference + min_delta
