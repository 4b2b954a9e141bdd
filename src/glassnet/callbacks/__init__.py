"""Callbacks for ``fit`` (the Keras protocol)."""

from typing import Any

from .base import Callback, CallbackList
from .history import History
from .progress import ProgbarLogger

__all__ = ["Callback", "CallbackList", "GradientMonitor", "History", "ProgbarLogger"]


def __getattr__(name: str) -> Any:
    # GradientMonitor lives with the diagnostics; imported lazily because diagnostics imports callbacks.
    if name == "GradientMonitor":
        from ..diagnostics.monitor import GradientMonitor

        return GradientMonitor
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
