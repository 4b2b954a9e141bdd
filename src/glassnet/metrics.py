"""Streaming metrics: ``update(y_true, y_pred)`` per batch, ``result()`` for the epoch, ``reset()``.

    accuracy  fraction of correct predictions: argmax over classes for several outputs (labels as
              integers or one-hot), ``p > threshold`` for one output (0.5 for probabilities, 0 for logits)
    mae       mean |p - y| over every element
    mse       mean (p - y)^2 over every element
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ._registry import family
from ._typing import Array


class Metric:
    """Base class: a running total and a count."""

    name = "metric"

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.total = 0.0
        self.count = 0

    def update(self, y_true: Array, y_pred: Array) -> None:
        value, count = self.batch_sum(y_true, y_pred)
        self.total += value
        self.count += count

    def batch_sum(self, y_true: Array, y_pred: Array) -> tuple[float, int]:
        raise NotImplementedError

    def result(self) -> float:
        return self.total / self.count if self.count else float("nan")

    def __call__(self, y_true: Any, y_pred: Array) -> float:
        value, count = self.batch_sum(np.asarray(y_true), y_pred)
        return value / count if count else float("nan")

    def get_config(self) -> dict[str, Any]:
        return {}


class Accuracy(Metric):
    """Fraction correct: argmax for several outputs, threshold for a single output."""

    name = "accuracy"

    def __init__(self, threshold: float = 0.5) -> None:
        self.threshold = float(threshold)
        super().__init__()

    def batch_sum(self, y_true: Array, y_pred: Array) -> tuple[float, int]:
        if y_pred.ndim >= 1 and y_pred.shape[-1] > 1:
            predicted = y_pred.argmax(axis=-1)
            truth = y_true.argmax(axis=-1) if y_true.shape == y_pred.shape else y_true.reshape(predicted.shape)
            return float(np.count_nonzero(predicted == truth)), int(predicted.size)
        predicted = y_pred.reshape(-1) > self.threshold
        truth = y_true.reshape(-1) > 0.5 if self.threshold == 0.5 else y_true.reshape(-1) > 0
        return float(np.count_nonzero(predicted == truth)), int(predicted.size)

    def get_config(self) -> dict[str, Any]:
        return {"threshold": self.threshold}


class MeanAbsoluteError(Metric):
    """mean |p - y|."""

    name = "mae"

    def batch_sum(self, y_true: Array, y_pred: Array) -> tuple[float, int]:
        return float(np.abs(y_pred - y_true.reshape(y_pred.shape)).sum()), int(y_pred.size)


class MeanSquaredError(Metric):
    """mean (p - y)^2."""

    name = "mse"

    def batch_sum(self, y_true: Array, y_pred: Array) -> tuple[float, int]:
        e = y_pred - y_true.reshape(y_pred.shape)
        return float(np.vdot(e, e)), int(y_pred.size)


METRICS = family("metric", Metric)
METRICS.register(Accuracy, "accuracy", "acc")
METRICS.register(MeanAbsoluteError, "mae", "mean_absolute_error")
METRICS.register(MeanSquaredError, "mse", "mean_squared_error")


def get(identifier: Any) -> Metric:
    """Resolve ``"accuracy"``, ``"mae"``, ``"mse"`` or a ``Metric``."""
    return METRICS.get(identifier)


__all__ = ["Accuracy", "MeanAbsoluteError", "MeanSquaredError", "Metric", "get"]
