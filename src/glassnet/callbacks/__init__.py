"""Callbacks for ``fit`` (the Keras protocol)."""

from .base import Callback, CallbackList
from .history import History
from .progress import ProgbarLogger

__all__ = ["Callback", "CallbackList", "History", "ProgbarLogger"]
