"""Pictures of a convolutional network: its filters, the feature maps of one image, misclassified images.

    plot_filters(kernel)                         one small image per filter of a 2-D conv kernel
    plot_feature_maps(image, maps)               the input image, then each conv layer's channels
    plot_misclassified(images, y_true, y_pred)   a grid of images titled "true t / pred p"
    plot_channel_fractions(rows)                 per conv layer, each channel's dead / saturated fraction

matplotlib is optional; like ``plotting``, figures are drawn on an Agg canvas, never through pyplot.
Every picture scales each tile to its own range (min -> black, max -> white; RGB tiles per channel set),
so a tile shows a pattern, not a magnitude; colour bars would not compare across tiles anyway.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from .._typing import Array
from ..errors import ShapeError
from .plotting import _figure


def _grid(count: int, max_cols: int) -> tuple[int, int]:
    cols = max(1, min(count, max_cols))
    return -(-count // cols), cols


def _normalized(tile: Array) -> Array:
    """``tile`` mapped to [0, 1] by (t - min) / (max - min); a constant tile becomes 0.5 grey."""
    t = np.asarray(tile, dtype=np.float64)
    low, high = np.nanmin(t), np.nanmax(t)
    return np.full_like(t, 0.5) if not high > low else (t - low) / (high - low)


def _show(ax: Any, tile: Array, title: str = "", fontsize: float = 7) -> None:
    """Draw one (h, w) or (h, w, 1|3) tile in grey (one channel) or colour (three), axes hidden."""
    t = tile[..., 0] if tile.ndim == 3 and tile.shape[-1] == 1 else tile
    ax.imshow(_normalized(t), cmap="gray" if t.ndim == 2 else None, vmin=0.0, vmax=1.0, interpolation="nearest")
    ax.set_xticks([])
    ax.set_yticks([])
    if title:
        ax.set_title(title, fontsize=fontsize)


def _hide_unused(axes: Array, used: int) -> None:
    for ax in axes.ravel()[used:]:
        ax.set_axis_off()


def plot_filters(kernel: Array, max_filters: int = 64, title: str = "") -> Any:
    """A figure with filter f's weights ``kernel[:, :, :, f]`` as an image, for a Conv2D kernel of
    shape (kh, kw, in_channels, filters): grey for one input channel, colour for three, else the mean
    over input channels (the caption should say so). At most ``max_filters`` tiles."""
    kernel = np.asarray(kernel)
    if kernel.ndim != 4:
        raise ShapeError(f"plot_filters: expected a Conv2D kernel (kh, kw, in_channels, filters), got shape "
                         f"{kernel.shape}; hint: Conv1D kernels have 3 axes and are not drawn as images")
    if kernel.shape[2] not in (1, 3):
        kernel = kernel.mean(axis=2, keepdims=True)
    count = min(kernel.shape[3], max_filters)
    rows, cols = _grid(count, 8)
    fig = _figure(1.0 * cols + 0.4, 1.0 * rows + 0.6)
    axes = np.atleast_1d(fig.subplots(rows, cols, squeeze=False))
    for f, ax in enumerate(axes.ravel()[:count]):
        _show(ax, kernel[:, :, :, f], str(f))
    _hide_unused(axes, count)
    fig.suptitle(title or f"{count} filters ({kernel.shape[0]}x{kernel.shape[1]})", fontsize=9)
    return fig


def plot_feature_maps(image: Array, maps: Sequence[tuple[str, Array]], max_channels: int = 16) -> Any:
    """A figure: the input ``image`` (h, w, c) in the first row, then one row per ``(name, fmap)`` with
    fmap (h', w', channels) showing its first ``max_channels`` channels, each scaled to its own range."""
    if not maps:
        raise ValueError("plot_feature_maps: no feature maps given; pass [(layer name, (h, w, channels)), ...]")
    for name, fmap in maps:
        if np.ndim(fmap) != 3:
            raise ShapeError(f"plot_feature_maps: the map of {name!r} must be (height, width, channels), got "
                             f"shape {np.shape(fmap)}; hint: pass one image's output, without the batch axis")
    cols = max(min(fmap.shape[-1], max_channels) for _, fmap in maps)
    fig = _figure(0.9 * cols + 0.6, 1.0 * (len(maps) + 1) + 0.4)
    axes = fig.subplots(len(maps) + 1, cols, squeeze=False)
    _show(axes[0, 0], np.asarray(image), "input")
    _hide_unused(axes[0], 1)
    for row, (name, fmap) in enumerate(maps, start=1):
        shown = min(fmap.shape[-1], max_channels)
        for c in range(shown):
            _show(axes[row, c], fmap[:, :, c], f"{name} {c}" if c == 0 else str(c), fontsize=6)
        _hide_unused(axes[row], shown)
    return fig


def plot_misclassified(
    images: Array, y_true: Array, y_pred: Array, class_names: Sequence[str] | None = None, max_images: int = 36
) -> Any:
    """A grid of the first ``max_images`` images (n, h, w, c) with ``y_pred != y_true``, each titled
    "true t / pred p" (class names when given); a figure saying "no misclassified images" when none."""
    images, y_true, y_pred = np.asarray(images), np.asarray(y_true).reshape(-1), np.asarray(y_pred).reshape(-1)
    if images.ndim != 4 or not (len(images) == len(y_true) == len(y_pred)):
        raise ShapeError(f"plot_misclassified: expected images (n, h, w, c) and n labels each, got images "
                         f"{images.shape}, y_true {y_true.shape}, y_pred {y_pred.shape}")
    wrong = np.flatnonzero(y_true != y_pred)
    count = min(len(wrong), max_images)
    if not count:
        fig = _figure(3.0, 1.0)
        fig.text(0.5, 0.5, "no misclassified images", ha="center", va="center")
        return fig
    name = (lambda k: class_names[int(k)]) if class_names is not None else str
    rows, cols = _grid(count, 9)
    fig = _figure(1.1 * cols + 0.3, 1.25 * rows + 0.5)
    axes = fig.subplots(rows, cols, squeeze=False)
    for ax, i in zip(axes.ravel(), wrong[:count]):
        _show(ax, images[i], f"true {name(y_true[i])}\npred {name(y_pred[i])}", fontsize=6)
    _hide_unused(axes, count)
    fig.suptitle(f"{len(wrong):,} of {len(y_true):,} test images misclassified (first {count} shown)", fontsize=9)
    return fig


def plot_channel_fractions(rows: Sequence[dict[str, Any]]) -> Any:
    """A figure with one bar chart per layer: each channel's dead fraction (ReLU family) or saturated
    fraction (sigmoid/tanh), from ``Diagnostics.channels`` rows of one epoch."""
    layers: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        layers.setdefault(row["layer"], []).append(row)
    if not layers:
        raise ValueError("plot_channel_fractions: no channel rows; train with a GradientMonitor on a conv model")
    fig = _figure(4.2 * min(len(layers), 3), 2.8 * -(-len(layers) // 3))
    axes = fig.subplots(-(-len(layers) // 3), min(len(layers), 3), squeeze=False)
    for ax, (layer, channel_rows) in zip(axes.ravel(), layers.items()):
        key = "saturated_fraction" if channel_rows[0]["activation"] in ("sigmoid", "tanh") else "dead_fraction"
        values = [r[key] for r in channel_rows]
        ax.bar([r["channel"] for r in channel_rows], values, color="tab:red" if key == "dead_fraction" else "tab:blue")
        ax.set(ylim=(0, 1.02), xlabel="channel", ylabel=key.replace("_", " "),
               title=f"{layer} ({channel_rows[0]['activation']})")
        ax.title.set_fontsize(8)
        ax.xaxis.get_major_locator().set_params(integer=True)
    _hide_unused(axes, len(layers))
    return fig


__all__ = ["plot_channel_fractions", "plot_feature_maps", "plot_filters", "plot_misclassified"]
