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

from .._files import atomic_write
from .._typing import Array
from ..errors import MissingDependencyError, ShapeError, require

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


def _spans_decades(values: list[float], decades: float = 3.0) -> bool:
    """Whether the finite values are all positive and span more than ``decades`` powers of ten."""
    finite = np.asarray(values, dtype=np.float64)
    finite = finite[np.isfinite(finite)]
    if len(finite) < 2 or finite.min() <= 0.0:
        return False
    return bool(np.log10(finite.max() / finite.min()) > decades)


def plot_history(history: dict[str, list[float]], key: str = "loss") -> Any:
    """``history[key]`` and ``history["val_" + key]`` (if recorded) against the epoch number; the y axis
    turns logarithmic when the positive values span more than three powers of ten."""
    if key not in history:
        raise ShapeError(f"plot_history: no {key!r} in history; recorded: {', '.join(history)}")
    fig = _figure()
    ax = fig.add_subplot()
    epochs = np.arange(1, len(history[key]) + 1)
    ax.plot(epochs, history[key], marker="o", markersize=3, label=f"train {key}")
    if f"val_{key}" in history:
        ax.plot(epochs, history[f"val_{key}"], marker="o", markersize=3, label=f"validation {key}")
    if _spans_decades([*history[key], *history.get(f"val_{key}", [])]):
        ax.set_yscale("log")  # a diverging or fast-falling curve would flatten everything else
        key_label = f"{key} (log scale)"
    else:
        key_label = key
    from matplotlib.ticker import MaxNLocator

    ax.xaxis.set_major_locator(MaxNLocator(integer=True))  # epochs are whole numbers
    if len(epochs) > 1:
        ax.set_xlim(0.5, len(epochs) + 0.5)  # every epoch, even where a diverged value cannot be drawn
    ax.set_xlabel("epoch")
    ax.set_ylabel(key_label)
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


def _grid_classes(predict: Callable[[Array], Array], points: Array, resolution: int, dtype: Any) -> tuple[Array, ...]:
    """A ``resolution``-square grid padded 10% around ``points`` and the class ``predict`` gives each node."""
    low, high = points.min(axis=0), points.max(axis=0)
    pad = 0.1 * np.maximum(high - low, 1e-3)
    g0, g1 = np.meshgrid(
        np.linspace(low[0] - pad[0], high[0] + pad[0], resolution),
        np.linspace(low[1] - pad[1], high[1] + pad[1], resolution),
    )
    out = np.asarray(predict(np.stack([g0.ravel(), g1.ravel()], axis=1).astype(dtype)))
    if out.ndim == 2 and out.shape[1] > 1:
        out = out.argmax(axis=1)
    elif out.ndim == 2:
        out = (out[:, 0] > 0.5).astype(np.int64)
    return g0, g1, out


def _class_legend(ax: Any, classes: Array, colour: Callable[[int], Any], has_test: bool) -> None:
    from matplotlib.lines import Line2D

    handles = [
        Line2D([], [], marker="s", linestyle="", markersize=8, color=colour(i), label=f"class {c}")
        for i, c in enumerate(classes)
    ]
    if has_test:
        handles += [
            Line2D([], [], marker=m, linestyle="", markersize=6, markerfacecolor="white", color="k", label=name)
            for m, name in (("o", "train"), ("^", "test"))
        ]
    ax.legend(handles=handles, loc="best", fontsize=8, framealpha=0.8)


def plot_decision_boundary(
    predict: Callable[[Array], Array],
    x: Array,
    y: Array,
    title: str = "decision boundary",
    resolution: int = 200,
    x_test: Array | None = None,
    y_test: Array | None = None,
) -> Any:
    """Predicted class over a grid covering the 2-D points ``x`` (and ``x_test``), with the points
    coloured by their true class (``y``, ``y_test``); test points are drawn as triangles, and a legend
    names each class's colour.

    ``predict`` maps (m, 2) inputs to class labels (m,) or to scores/probabilities (m, k), argmaxed.
    """
    x = np.asarray(x)
    if x.ndim != 2 or x.shape[1] != 2:
        raise ShapeError(f"plot_decision_boundary needs 2-D inputs (n, 2), got shape {x.shape}")
    has_test = x_test is not None and y_test is not None and len(x_test) > 0
    points = np.concatenate([x, np.asarray(x_test)]) if has_test else x
    g0, g1, out = _grid_classes(predict, points, resolution, x.dtype)
    labels = [np.asarray(y).reshape(-1), np.asarray(y_test).reshape(-1) if has_test else np.zeros(0, np.int64)]
    classes = np.unique(np.concatenate([out.reshape(-1), *labels]))  # e.g. {0, 1} or {-1, +1}

    def index(values: Array) -> Array:
        return np.searchsorted(classes, values)

    from matplotlib import colormaps
    from matplotlib.colors import BoundaryNorm

    k = len(classes)
    cmap = colormaps["coolwarm"] if k <= 2 else colormaps["tab10"].resampled(max(k, 2))
    norm = BoundaryNorm(np.arange(k + 1) - 0.5, cmap.N) if k > 2 else None
    vrange = {"vmin": 0, "vmax": 1} if k <= 2 else {"norm": norm}
    fig = _figure(5.5, 5.0)
    ax = fig.add_subplot()
    ax.contourf(g0, g1, index(out).reshape(g0.shape), levels=np.arange(k + 1) - 0.5, alpha=0.3, cmap=cmap, **vrange)
    style = {"cmap": cmap, "edgecolors": "k", "linewidths": 0.3, **vrange}
    ax.scatter(x[:, 0], x[:, 1], c=index(labels[0]), s=14, marker="o", **style)
    if has_test:
        xt = np.asarray(x_test)
        ax.scatter(xt[:, 0], xt[:, 1], c=index(labels[1]), s=26, marker="^", **style)
    _class_legend(ax, classes, lambda i: cmap(float(i)) if norm is None else cmap(int(norm(i))), has_test)
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
