"""Callbacks for ``fit`` (the Keras protocol)."""

from .._registry import family
from .backup import BackupAndRestore
from .base import Callback, CallbackList
from .checkpoint import ModelCheckpoint
from .csv_logger import CSVLogger
from .early_stopping import EarlyStopping
from .history import History
from .lr import LearningRateScheduler, ReduceLROnPlateau
from .progress import ProgbarLogger
from .terminate_on_nan import TerminateOnNaN

CALLBACKS = family("callback", Callback)
for _cls in (BackupAndRestore, CSVLogger, EarlyStopping, LearningRateScheduler, ModelCheckpoint, ReduceLROnPlateau,
             TerminateOnNaN):
    CALLBACKS.register(_cls)

__all__ = [
    "CALLBACKS",
    "BackupAndRestore",
    "CSVLogger",
    "Callback",
    "CallbackList",
    "EarlyStopping",
    "History",
    "LearningRateScheduler",
    "ModelCheckpoint",
    "ProgbarLogger",
    "ReduceLROnPlateau",
    "TerminateOnNaN",
]

