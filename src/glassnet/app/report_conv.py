"""The run report's "Convolutional layers" section (registered with ``run_report.register_section``).

For a model with 2-D convolutions (``Conv2D``, ``Conv2DTranspose``) trained on images, and only when
matplotlib is installed, it saves under ``plots/`` and shows:

    conv_filters.png        the first conv layer's filters as images (plotting_conv.plot_filters)
    conv_feature_maps.png   the first test image and each conv layer's output for it, channel by channel
    misclassified.png       test images the model gets wrong, titled with true and predicted labels
                            (classification runs only)
    conv_channels.png       each channel's dead (ReLU) or saturated (sigmoid/tanh) fraction at the last
                            monitored epoch, from the GradientMonitor (monitored runs only), whose
                            per-channel rows of every epoch also go to ``channels.csv``

Any other model gets no section (the provider returns None).
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from .._typing import Array
from ..diagnostics.probe import model_layers, run_probe
from ..layers import Conv2D, Conv2DTranspose
from ..layers.base import Layer
from . import plotting, plotting_conv
from .report import image_tag
from .run_report import predicted_classes, register_section

if TYPE_CHECKING:
    from .runs import RunSetup

TITLE = "Convolutional layers"


def conv_layers(model: Layer) -> list[tuple[str, Layer]]:
    """``(path, layer)`` of every 2-D convolution in ``model``, in the model's order (nested models too)."""
    return [(path, layer) for path, layer in model_layers(model) if isinstance(layer, (Conv2D, Conv2DTranspose))]


def filter_kernel(layer: Layer) -> Array:
    """The layer's kernel as (kh, kw, in_channels, filters): Conv2DTranspose stores (kh, kw, filters, in)."""
    kernel = layer.kernel.value  # type: ignore[attr-defined]
    return kernel.transpose(0, 1, 3, 2) if isinstance(layer, Conv2DTranspose) else kernel


def feature_maps(model: Layer, image: Array, convs: list[tuple[str, Layer]]) -> list[tuple[str, Array]]:
    """Each conv layer's output (h, w, channels) for one ``image`` (h, w, c), in inference mode."""
    outputs = run_probe(model, image[None]).outputs
    return [(path, outputs[path][0]) for path, _ in convs if path in outputs and outputs[path].ndim == 4]


def write_channels_csv(path: Path, rows: list[dict[str, Any]]) -> None:
    """``Diagnostics.channels`` as CSV: epoch, layer, activation, channel, dead_fraction, saturated_fraction."""
    columns = ("epoch", "layer", "activation", "channel", "dead_fraction", "saturated_fraction")
    with open(path, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)


def conv_section(run: RunSetup, run_dir: Path, history: Any, metrics: Any) -> tuple[str, str] | None:
    """``("Convolutional layers", html)`` with the three pictures, or None (no 2-D conv, no images, no
    matplotlib, or a generative run: app.generative_report shows those)."""
    if getattr(run, "kind", "sequential") != "sequential":  # generative runs have their own section
        return None
    convs = conv_layers(run.model)
    data = run.data
    images = data.x_test if len(data.x_test) else data.x_train
    if not convs or not plotting.available() or np.ndim(images) != 4 or not len(images):
        return None
    plots = Path(run_dir) / "plots"
    figures: list[tuple[str, str, Any]] = []
    first_path, first = convs[0]
    kernel = filter_kernel(first)
    how = "" if kernel.shape[2] in (1, 3) else f", mean over its {kernel.shape[2]} input channels"
    figures.append((f"filters of the first conv layer, {first_path}{how}", "conv_filters.png",
                    plotting_conv.plot_filters(kernel)))
    maps = feature_maps(run.model, images[0], convs)
    if maps:
        which = "test" if len(data.x_test) else "training"
        figures.append((f"feature maps of the first {which} image after each conv layer (first 16 channels)",
                        "conv_feature_maps.png", plotting_conv.plot_feature_maps(images[0], maps)))
    if data.task == "classification" and len(data.x_test):
        y_pred = predicted_classes(run.model, data.x_test)
        figures.append(("misclassified test images (true / predicted label)", "misclassified.png",
                        plotting_conv.plot_misclassified(data.x_test, data.y_test, y_pred)))
    channels = getattr(getattr(run.model, "history", None), "diagnostics", None)
    channels = channels.channels if channels is not None else []
    if channels:
        write_channels_csv(Path(run_dir) / "channels.csv", channels)
        last = [row for row in channels if row["epoch"] == channels[-1]["epoch"]]
        figures.append((f"per-channel dead / saturated fraction of the probe outputs (epoch {last[0]['epoch'] + 1})",
                        "conv_channels.png", plotting_conv.plot_channel_fractions(last)))
    tags = []
    for caption, name, fig in figures:
        plotting.save_figure(fig, plots / name)
        tags.append(image_tag(caption, plots / name, relative_to=Path(run_dir)))
    return TITLE, "\n".join(tags)


register_section(conv_section)

__all__ = ["conv_layers", "conv_section", "feature_maps", "filter_kernel", "write_channels_csv"]
