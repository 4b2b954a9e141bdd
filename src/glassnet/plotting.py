"""Pictures of a run: learning curves, confusion matrix, decision boundary, predicted vs true.

matplotlib is optional (``pip install "glassnet[plot]"``) and imported only when a picture is drawn.
Figures are built with ``matplotlib.figure.Figure`` and its Agg canvas directly, so drawing never
opens a window, never needs a display and never changes pyplot's global backend.
"""

from __future__ import annotations

import io
import os
from collections.abc import Callable
from typing import Any

import numpy as np

from ._typing import Array
from .errors import MissingDependencyError, ShapeError, require
from .io import atomic_write

PLOT_HINT = 'pip install "glassnet[plot]"'


def available() -> bool:
    """Whether matplotlib can be imported."""
    try:
        require("matplotlib", "plot")
    except MissingDependencyError:
        return False
    return True


def _figure(width: float = 6.0, height: float = 4.0) -> Any:
    require("matplotlib", "plot")
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=100, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def save_figure(fig: Any, path: str | os.PathLike[str]) -> None:
    """Write ``fig`` as a PNG, atomically."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    atomic_write(path, lambda handle: handle.write(buffer.getvalue()))


def plot_history(history: dict[str, list[float]], key: str = "loss") -> Any:
    """``history[key]`` and ``history["val_" + key]`` (if recorded) against the epoch number."""
    if key not in history:
        raise ShapeError(f"plot_history: no {key!r} in history; recorded: {', '.join(history)}")
    fig = _figure()
    ax = fig.add_subplot()
    epochs = np.arange(1, len(history[key]) + 1)
    ax.plot(epochs, history[key], marker="o", markersize=3, label=f"train {key}")
    if f"val_{key}" in history:
        ax.plot(epochs, history[f"val_{key}"], marker="o", markersize=3, label=f"validation {key}")
    ax.set_xlabel("epoch")
    ax.set_ylabel(key)
    ax.set_title(f"{key} per epoch")
    ax.grid(alpha=0.3)
    ax.legend()
    return fig


def confusion_matrix(y_true: Array, y_pred: Array, n_classes: int | None = None) -> Array:
    """C[i, j] = number of samples of true class i predicted as class j."""
    y_true = np.asarray(y_true, dtype=np.int64).reshape(-1)
    y_pred = np.asarray(y_pred, dtype=np.int64).reshape(-1)
    if y_true.shape != y_pred.shape:
        raise ShapeError(f"confusion_matrix: {len(y_true)} true labels but {len(y_pred)} predictions")
    k = n_classes or int(max(y_true.max(initial=0), y_pred.max(initial=0))) + 1
    return np.bincount(y_true * k + y_pred, minlength=k * k).reshape(k, k)


def plot_confusion_matrix(y_true: Array, y_pred: Array, n_classes: int | None = None) -> Any:
    """Counts per (true, predicted) class pair, with the count written in each cell."""
    matrix = confusion_matrix(y_true, y_pred, n_classes)
    k = len(matrix)
    fig = _figure(1.2 + 0.45 * max(k, 6), 0.8 + 0.45 * max(k, 6))
    ax = fig.add_subplot()
    image = ax.imshow(matrix, cmap="Blues")
    fig.colorbar(image, ax=ax)
    ax.set_xticks(range(k))
    ax.set_yticks(range(k))
    ax.set_xlabel("predicted class")
    ax.set_ylabel("true class")
    accuracy = np.trace(matrix) / max(matrix.sum(), 1)
    ax.set_title(f"confusion matrix (accuracy {accuracy:.3f})")
    threshold = matrix.max() / 2.0
    for (i, j), count in np.ndenumerate(matrix):
        ax.text(
            j,
            i,
            str(count),
            ha="center",
            va="center",
            fontsize=8,
            color="white" if count > threshold else "black",
        )
    return fig


def plot_decision_boundary(
    predict: Callable[[Array], Array],
    x: Array,
    y: Array,
    title: str = "decision boundary",
    resolution: int = 200,
) -> Any:
    """Predicted class over a grid covering the 2-D points ``x``, with the points coloured by ``y``.

    ``predict`` maps (m, 2) inputs to class labels (m,) or to scores/probabilities (m, k), argmaxed.
    """
    x = np.asarray(x)
    if x.ndim != 2 or x.shape[1] != 2:
        raise ShapeError(f"plot_decision_boundary needs 2-D inputs (n, 2), got shape {x.shape}")
    low, high = x.min(axis=0), x.max(axis=0)
    pad = 0.1 * np.maximum(high - low, 1e-3)
    g0, g1 = np.meshgrid(
        np.linspace(low[0] - pad[0], high[0] + pad[0], resolution),
        np.linspace(low[1] - pad[1], high[1] + pad[1], resolution),
    )
    grid = np.stack([g0.ravel(), g1.ravel()], axis=1).astype(x.dtype)
    out = np.asarray(predict(grid))
    if out.ndim == 2 and out.shape[1] > 1:
        out = out.argmax(axis=1)
    elif out.ndim == 2:
        out = (out[:, 0] > 0.5).astype(np.int64)
    fig = _figure(5.5, 5.0)
    ax = fig.add_subplot()
    ax.contourf(g0, g1, out.reshape(g0.shape), alpha=0.3, cmap="coolwarm")
    ax.scatter(x[:, 0], x[:, 1], c=np.asarray(y).reshape(-1), s=14, cmap="coolwarm", edgecolors="k", linewidths=0.3)
    ax.set_xlabel("x0")
    ax.set_ylabel("x1")
    ax.set_title(title)
    return fig


def plot_predictions(y_true: Array, y_pred: Array) -> Any:
    """Predicted against true targets, with the identity line where a perfect model would lie."""
    y_true = np.asarray(y_true, dtype=np.float64).reshape(-1)
    y_pred = np.asarray(y_pred, dtype=np.float64).reshape(-1)
    fig = _figure(5.0, 5.0)
    ax = fig.add_subplot()
    ax.scatter(y_true, y_pred, s=12, alpha=0.7)
    low, high = float(min(y_true.min(), y_pred.min())), float(max(y_true.max(), y_pred.max()))
    ax.plot([low, high], [low, high], color="black", linewidth=1, label="y = x")
    ax.set_xlabel("true target")
    ax.set_ylabel("predicted")
    ax.set_title("predicted vs true (test set)")
    ax.legend()
    return fig


__all__ = [
    "PLOT_HINT",
    "available",
    "confusion_matrix",
    "plot_confusion_matrix",
    "plot_decision_boundary",
    "plot_history",
    "plot_predictions",
    "save_figure",
]
