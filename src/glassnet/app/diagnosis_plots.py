"""Plots of a ``GradientMonitor`` record, and the report's "Diagnosis" HTML section.

    plot_gradient_flow        per-layer gradient norm over epochs (log scale)
    plot_activation_stats     per-layer activation std, dead fraction and saturated fraction over epochs
    diagnosis_html(history)   findings + both plots as base64 PNG, for the CLI report

matplotlib is optional (``pip install "glassnet[plot]"``); figures are drawn with the Agg backend through
``matplotlib.figure.Figure``, so no global pyplot state is touched.
"""

from __future__ import annotations

import base64
import html
import io
from pathlib import Path
from typing import Any

import numpy as np

from ..diagnostics.diagnosis import diagnose
from ..diagnostics.monitor import Diagnostics
from ..errors import MissingDependencyError, require


def _record(history: Any) -> Diagnostics:
    record = history if isinstance(history, Diagnostics) else getattr(history, "diagnostics", None)
    if record is None:
        raise ValueError("no diagnostics to plot: train with fit(..., diagnose=True) or a GradientMonitor")
    return record


def _new_figure(ncols: int, width: float = 4.6) -> Any:
    require("matplotlib", "plot")
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width * ncols, 3.6), layout="constrained")
    return fig, fig.subplots(1, ncols, squeeze=False)[0]


def plot_gradient_flow(history: Any) -> Any:
    """A figure: each trainable layer's gradient norm (mean over batches) per monitored epoch."""
    record = _record(history)
    fig, (ax,) = _new_figure(1, width=6.4)
    epochs = np.array(record.epochs()) + 1
    for layer, norms in record.layer_series("grad_norm").items():
        values = np.array(norms, dtype=float)
        ax.plot(epochs[: len(values)], np.where(values > 0, values, np.nan), "o-", markersize=3, label=layer)
    ax.set_yscale("log")
    ax.set(xlabel="epoch", ylabel="||gradient|| (mean over batches)", title="Gradient flow per layer")
    ax.xaxis.get_major_locator().set_params(integer=True)
    ax.legend(fontsize=7, loc="center left", bbox_to_anchor=(1.0, 0.5))
    return fig


def plot_activation_stats(history: Any) -> Any:
    """A figure: per layer, activation std, dead fraction and saturated fraction per monitored epoch."""
    record = _record(history)
    fig, axes = _new_figure(3)
    keys = (
        ("std", "activation std"),
        ("dead_fraction", "dead fraction (ReLU family)"),
        ("saturated_fraction", "saturated fraction (sigmoid/tanh)"),
    )
    epochs = np.array(sorted({row["epoch"] for row in record.activations})) + 1
    for ax, (key, label) in zip(axes, keys, strict=True):
        for layer, values in record.activation_series(key).items():
            ax.plot(epochs[: len(values)], values, "o-", markersize=3, label=layer)
        ax.set(xlabel="epoch", ylabel=label)
        ax.xaxis.get_major_locator().set_params(integer=True)
        if key != "std":
            ax.set_ylim(-0.05, 1.05)
    axes[-1].legend(fontsize=7, loc="center left", bbox_to_anchor=(1.0, 0.5))
    fig.suptitle("Activation statistics on the probe batch")
    return fig


def figure_to_base64(fig: Any) -> str:
    """The figure as a base64-encoded PNG."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=100)
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def _figure_html(fig: Any, caption: str, plots_dir: Path | None, file_name: str) -> str:
    """The figure inlined as base64 PNG; also saved as ``plots_dir/file_name`` when a folder is given."""
    if plots_dir is None:
        return f'<img alt="{html.escape(caption)}" src="data:image/png;base64,{figure_to_base64(fig)}">'
    from .._files import atomic_write
    from .report import image_tag

    path = Path(plots_dir) / file_name
    atomic_write(path, lambda handle: fig.savefig(handle, format="png", dpi=100))
    return image_tag(caption, path, relative_to=Path(plots_dir).parent)


def diagnosis_html(history: Any, heading: bool = True, plots_dir: Path | None = None) -> str:
    """The report's "Diagnosis" section: findings (or that none were found) and the two plots.

    ``heading=False`` leaves out the ``<section>``/``<h2>`` wrapper, for reports that add their own
    title. ``plots_dir`` also saves the plots there (``gradient_flow.png``, ``activation_stats.png``).
    Without matplotlib the findings are kept and a line says how to get the plots.
    """
    record = _record(history)
    findings = diagnose(record)
    if findings:
        items = "".join(
            f"<li><strong>{html.escape(f.name)}</strong> in layer <code>{html.escape(f.layer)}</code>: "
            f"{html.escape(f.evidence)}.<br>Try: {html.escape('; '.join(f.remedies))}.</li>"
            for f in findings
        )
        parts = [f'<ul class="findings">{items}</ul>']
    else:
        parts = ["<p>No problems found: gradient flow, dead or saturated units and update ratios look healthy.</p>"]
    try:
        if record.gradients:
            fig = plot_gradient_flow(record)
            parts.append(_figure_html(fig, "gradient flow per layer", plots_dir, "gradient_flow.png"))
        if record.activations:
            fig = plot_activation_stats(record)
            parts.append(_figure_html(fig, "activation statistics per layer", plots_dir, "activation_stats.png"))
    except MissingDependencyError as exc:
        parts.append(f"<p>{html.escape(str(exc))}</p>")
    if heading:
        parts = ['<section id="diagnosis">', "<h2>Diagnosis</h2>", *parts, "</section>"]
    return "\n".join(parts)
