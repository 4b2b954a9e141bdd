"""Callbacks for ``fit`` (the Keras protocol)."""

from .._registry import family
from .backup import BackupAndRestore
from .base import Callback, CallbackList
from .checkpoint import ModelCheckpoint
from .csv_logger import CSVLogger
from .early_stopping import EarlyStopping
from .ema import ExponentialMovingAverage
from .history import History
from .jsonl_logger import JSONLinesLogger
from .lambda_callback import LambdaCallback
from .lr import LearningRateScheduler, ReduceLROnPlateau
from .progress import ProgbarLogger
from .terminate_on_nan import TerminateOnNaN

CALLBACKS = family("callback", Callback)
# BackupAndRestore and LambdaCallback take a folder per run and functions: not for TOML [[callbacks]].
for _cls in (CSVLogger, EarlyStopping, JSONLinesLogger, LearningRateScheduler, ModelCheckpoint, ReduceLROnPlateau,
             TerminateOnNaN):
    CALLBACKS.register(_cls)

__all__ = [
    "CALLBACKS",
    "BackupAndRestore",
    "CSVLogger",
    "Callback",
    "CallbackList",
    "EarlyStopping",
    "ExponentialMovingAverage",
    "History",
    "JSONLinesLogger",
    "LambdaCallback",
    "LearningRateScheduler",
    "ModelCheckpoint",
    "ProgbarLogger",
    "ReduceLROnPlateau",
    "TerminateOnNaN",
]

