"""Callbacks for ``fit`` (the Keras protocol)."""

from .base import Callback, CallbackList
from .history import History
from .lr import LearningRateScheduler, ReduceLROnPlateau
from .progress import ProgbarLogger

__all__ = [
    "Callback",
    "CallbackList",
    "History",
    "LearningRateScheduler",
    "ProgbarLogger",
    "ReduceLROnPlateau",
]
