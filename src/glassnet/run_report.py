"""Pictures and ``report.html`` for a finished run.

Other features add report sections without touching this module: ``register_section(provider)``
where ``provider(run, run_dir, history, metrics)`` returns ``(title, html)`` or ``None``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from . import __version__, plotting
from .config import dumps
from .models.summary import summary_text
from .report import Report, no_plots_notice, write_report

if TYPE_CHECKING:
    from .runs import RunSetup

SectionProvider = Callable[
    ["RunSetup", Path, dict[str, list[float]], dict[str, Any]], "tuple[str, str] | None"
]
SECTION_PROVIDERS: list[SectionProvider] = []


def register_section(provider: SectionProvider) -> SectionProvider:
    """Add a report section to every later run (usable as a decorator)."""
    SECTION_PROVIDERS.append(provider)
    return provider


def _curve_keys(history: dict[str, list[float]]) -> list[str]:
    keys = [k for k in history if not k.startswith("val_") and k != "learning_rate"]
    lr = history.get("learning_rate", [])
    if lr and max(lr) != min(lr):  # a constant learning rate says nothing as a curve
        keys.append("learning_rate")
    return keys


def make_plots(run: RunSetup, run_dir: Path, history: dict[str, list[float]]) -> list[tuple[str, Path]]:
    """Save every picture that fits the run under ``run_dir/plots``; returns (caption, path) pairs."""
    plots: list[tuple[str, Path, Any]] = []
    for key in _curve_keys(history):
        plots.append(
            (
                f"{key} per epoch",
                run_dir / "plots" / f"{key}.png",
                lambda k=key: plotting.plot_history(history, k),
            )
        )
    data, model = run.data, run.model
    if len(data.x_test):
        if data.task == "classification":
            y_pred = (
                model.predict(data.x_test).argmax(axis=-1)
                if data.n_outputs > 1
                else (model.predict(data.x_test).reshape(-1) > 0.5).astype(np.int64)
            )
            plots.append(
                (
                    "confusion matrix (test set)",
                    run_dir / "plots" / "confusion_matrix.png",
                    lambda: plotting.plot_confusion_matrix(data.y_test, y_pred, data.n_classes),
                )
            )
        else:
            plots.append(
                (
                    "predicted vs true (test set)",
                    run_dir / "plots" / "predicted_vs_true.png",
                    lambda: plotting.plot_predictions(data.y_test, model.predict(data.x_test)),
                )
            )
    if data.task == "classification" and data.input_shape == (2,):
        x = np.concatenate([data.x_train, data.x_test])
        y = np.concatenate([data.y_train, data.y_test])
        plots.append(
            (
                "decision boundary (train and test points)",
                run_dir / "plots" / "decision_boundary.png",
                lambda: plotting.plot_decision_boundary(model.predict, x, y),
            )
        )
    for _, path, draw in plots:
        plotting.save_figure(draw(), path)
    return [(caption, path) for caption, path, _ in plots]


def summary_rows(run: RunSetup, run_dir: Path, metrics: dict[str, Any]) -> dict[str, Any]:
    training, data = run.config["training"], run.data
    rows: dict[str, Any] = {
        "run": run_dir.name,
        "data": f"{run.config['data']['name']} ({data.task}; {len(data.x_train)} train, "
        f"{len(data.x_test)} test, {int(np.prod(data.input_shape))} features)",
        "model": f"{run.model.name}: {len(run.model.layers)} layers, "
        f"{metrics['parameters']['total']:,} parameters",
        "loss": run.config["loss"]["name"],
        "optimizer": ", ".join(
            f"{k}={v}" for k, v in run.config["optimizer"].items() if not isinstance(v, dict)
        ),
        "epochs": f"{metrics['epochs_run']} of {training['epochs']} (batch size {training['batch_size']})",
        "wall time": f"{metrics['wall_time_s']:.2f} s",
    }
    for name, value in (metrics.get("test") or {}).items():
        rows[f"test {name}"] = float(value)
    rows["seed"] = training["seed"]
    rows["glassnet"] = __version__
    return rows


def write_plots_and_report(
    run: RunSetup,
    run_dir: Path,
    history: dict[str, list[float]],
    metrics: dict[str, Any],
    extra_sections: Sequence[tuple[str, str]] = (),
) -> Path:
    """Draw the pictures (if matplotlib is installed) and write ``run_dir/report.html``."""
    images = make_plots(run, run_dir, history) if plotting.available() else []
    sections = [s for provider in SECTION_PROVIDERS if (s := provider(run, run_dir, history, metrics))]
    report = Report(
        title=f"glassnet run {run_dir.name}",
        summary=summary_rows(run, run_dir, metrics),
        metrics={k: metrics.get(k) for k in ("train", "validation", "test")},
        config_text=dumps(run.config),
        model_text=summary_text(run.model),
        images=images,
        sections=[*sections, *extra_sections],
        notice="" if plotting.available() else no_plots_notice(),
    )
    path = run_dir / "report.html"
    write_report(path, report)
    return path


__all__ = ["SECTION_PROVIDERS", "make_plots", "register_section", "summary_rows", "write_plots_and_report"]
