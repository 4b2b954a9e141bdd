"""The run report's "Gradient through time" section, for monitored runs with recurrent layers.

Registered with ``run_report.register_section``. It reads the monitor's ``state_grads`` (per recurrent
layer and monitored epoch, ||dL/dh_t|| for t = 1..T, see ``diagnostics.state_grads``), writes them to
``state_grads.csv`` (epoch, layer, t, norm) and draws, per layer, the curve normalized by its last
step, ||dL/dh_t|| / ||dL/dh_T||, at the first and the last monitored epoch (log scale): a curve that
falls steeply towards t = 1 is a layer whose early steps get no learning signal. Any "vanishing
gradients through time" finding is repeated above the plot.
"""

from __future__ import annotations

import csv
import html
from pathlib import Path
from typing import Any

import numpy as np

from ..diagnostics.diagnosis import diagnose
from ..diagnostics.through_time import THROUGH_TIME
from ..errors import MissingDependencyError, require
from .run_report import register_section

MAX_PANELS = 4  # layers drawn side by side; the CSV has them all


def _rows(record: Any) -> list[dict[str, Any]]:
    return list(getattr(record, "state_grads", None) or [])


def write_state_grads_csv(rows: list[dict[str, Any]], path: Path) -> None:
    """One line per (epoch, layer, t): the monitor's ||dL/dh_t|| (t counted from 1, processing order)."""
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["epoch", "layer", "t", "grad_norm"])
        for row in rows:
            writer.writerows([row["epoch"], row["layer"], t, norm] for t, norm in enumerate(row["norms"], start=1))


def plot_gradient_through_time(rows: list[dict[str, Any]]) -> Any:
    """A figure: per recurrent layer, ||dL/dh_t|| / ||dL/dh_T|| over t at its first and last monitored epoch."""
    require("matplotlib", "plot")
    from matplotlib.figure import Figure

    layers = list(dict.fromkeys(row["layer"] for row in rows))[:MAX_PANELS]
    fig = Figure(figsize=(max(6.4, 4.6 * len(layers)), 3.6), layout="constrained")
    axes = fig.subplots(1, len(layers), squeeze=False)[0]
    for ax, layer in zip(axes, layers, strict=True):
        mine = sorted((r for r in rows if r["layer"] == layer), key=lambda r: r["epoch"])
        for r in [mine[0], mine[-1]] if len(mine) > 1 else mine:
            norms = np.asarray(r["norms"], dtype=np.float64)
            with np.errstate(all="ignore"):
                curve = np.where(norms > 0, norms / norms[-1], np.nan)
            ax.plot(np.arange(1, len(norms) + 1), curve, label=f"epoch {r['epoch'] + 1}")
        ax.set_yscale("log")
        ax.set(title=layer, xlabel="time step t (processing order)", ylabel="||dL/dh_t|| / ||dL/dh_T||")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=8)
    fig.suptitle("Gradient through time (batch means over the epoch)")
    return fig


def gradient_through_time_section(run: Any, run_dir: Path, history: Any, metrics: Any) -> tuple[str, str] | None:
    """``("Gradient through time", html)`` for a monitored run with recurrent layers; else None."""
    record = getattr(getattr(run.model, "history", None), "diagnostics", None)
    rows = _rows(record)
    if not rows:
        return None
    run_dir = Path(run_dir)
    write_state_grads_csv(rows, run_dir / "state_grads.csv")
    findings = [f for f in diagnose(record) if f.name == THROUGH_TIME]
    parts = [
        "<p>||dL/dh_t||: how much of the loss's gradient reaches the hidden state of step t "
        "(numbers in <code>state_grads.csv</code>).</p>"
    ]
    parts += [
        f"<p><strong>{html.escape(f.name)}</strong> in layer <code>{html.escape(f.layer)}</code>: "
        f"{html.escape(f.evidence)}.<br>Try: {html.escape('; '.join(f.remedies))}.</p>"
        for f in findings
    ]
    try:
        from .diagnosis_plots import _figure_html

        fig = plot_gradient_through_time(rows)
        parts.append(_figure_html(fig, "gradient through time", run_dir / "plots", "gradient_through_time.png"))
    except MissingDependencyError as exc:
        parts.append(f"<p>{html.escape(str(exc))}</p>")
    return "Gradient through time", "\n".join(parts)


register_section(gradient_through_time_section)

__all__ = ["gradient_through_time_section", "plot_gradient_through_time", "write_state_grads_csv"]
