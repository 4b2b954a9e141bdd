"""Callbacks for ``fit`` (the Keras protocol)."""

from typing import Any

from .base import Callback, CallbackList
from .checkpoint import ModelCheckpoint
from .csv_logger import CSVLogger
from .early_stopping import EarlyStopping
from .history import History
from .lr import LearningRateScheduler, ReduceLROnPlateau
from .progress import ProgbarLogger
from .terminate_on_nan import TerminateOnNaN

__all__ = [
    "CSVLogger",
    "Callback",
    "CallbackList",
    "EarlyStopping",
    "GradientMonitor",
    "History",
    "LearningRateScheduler",
    "ModelCheckpoint",
    "ProgbarLogger",
    "ReduceLROnPlateau",
    "TerminateOnNaN",
]


def __getattr__(name: str) -> Any:
    # GradientMonitor lives with the diagnostics; imported lazily because diagnostics imports callbacks.
    if name == "GradientMonitor":
        from ..diagnostics.monitor import GradientMonitor

        return GradientMonitor
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
