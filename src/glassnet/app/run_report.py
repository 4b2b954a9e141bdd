"""Pictures and ``report.html`` for a finished run.

Other features add report sections without touching this module: ``register_section(provider)``
where ``provider(run, run_dir, history, metrics)`` returns ``(title, html)`` or ``None``; ``history``
is the dict of per-epoch values, and ``run.model.history`` the ``History`` object itself (with any
diagnostics a callback recorded on it).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from .. import losses
from .._typing import Array
from .._version import __version__
from ..models.summary import summary_text
from . import plotting
from .config import dumps
from .diagnosis_report import report_section
from .report import Report, format_seconds, no_plots_notice, plural, write_report

if TYPE_CHECKING:  # runs imports this module's caller; divergence_message is imported late below
    from .runs import RunSetup

SectionProvider = Callable[["RunSetup", Path, dict[str, list[float]], dict[str, Any]], "tuple[str, str] | None"]
SECTION_PROVIDERS: list[SectionProvider] = []
MAX_CONFUSION_CLASSES = 30  # beyond this (e.g. a 104-character vocabulary) the matrix is unreadable and slow


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


def predicted_classes(model: Any, x: Array) -> Array:
    """Class labels from a classifier's outputs: argmax over several units, a threshold on one unit
    (0 for logit-like outputs of hinge/perceptron/from_logits losses, 0.5 for probabilities)."""
    out = model.predict(x)
    if out.shape[-1] > 1:
        return np.asarray(out.argmax(axis=-1))
    margin_losses = (losses.Hinge, losses.Perceptron)
    logits = getattr(model.loss, "from_logits", False) or isinstance(model.loss, margin_losses)
    return (out.reshape(-1) > (0.0 if logits else 0.5)).astype(np.int64)


def make_plots(run: RunSetup, run_dir: Path, history: dict[str, list[float]]) -> list[tuple[str, Path]]:
    """Save every picture that fits the run under ``run_dir/plots``; returns (caption, path) pairs."""
    saved: list[tuple[str, Path]] = []

    def add(caption: str, name: str, draw: Callable[[], Any]) -> None:
        path = run_dir / "plots" / name
        plotting.save_figure(draw(), path)
        saved.append((caption, path))

    for key in _curve_keys(history):
        add(f"{key} per epoch", f"{key}.png", lambda k=key: plotting.plot_history(history, k))  # type: ignore[misc]
    data, model = run.data, run.model
    if run.kind != "sequential":  # its pictures come from its own section (glassnet.app.generative_report)
        return saved
    classify = data.task == "classification"
    if len(data.x_test) and classify:
        if (data.n_classes or 0) <= MAX_CONFUSION_CLASSES:
            y_pred = predicted_classes(model, data.x_test)
            add(
                "confusion matrix (test set)",
                "confusion_matrix.png",
                lambda: plotting.plot_confusion_matrix(data.y_test, y_pred, data.n_classes),
            )
    elif len(data.x_test):
        add(
            "predicted vs true (test set)",
            "predicted_vs_true.png",
            lambda: plotting.plot_predictions(data.y_test, model.predict(data.x_test)),
        )
    if classify and data.input_shape == (2,):
        add(
            "decision boundary (circles: training points, triangles: test points)",
            "decision_boundary.png",
            lambda: plotting.plot_decision_boundary(
                lambda grid: predicted_classes(model, grid),
                data.x_train,
                data.y_train,
                x_test=data.x_test,
                y_test=data.y_test,
            ),
        )
    return saved


def summary_rows(run: RunSetup, run_dir: Path, metrics: dict[str, Any]) -> dict[str, Any]:
    training, data = run.config["training"], run.data
    rows: dict[str, Any] = {
        "run": run_dir.name,
        "data": f"{run.config['data']['name']} ({data.task}; {len(data.x_train):,} train, "
        f"{len(data.x_test):,} test, {plural(int(np.prod(data.input_shape)), 'feature')})",
        "model": f"{run.model.name}: {plural(len(run.model.layers), 'layer')}, "
        f"{plural(metrics['parameters']['total'], 'parameter')}",
        "loss": run.config["loss"].get("name", "binary crossentropy from logits (GAN)"),
        "optimizer": "; ".join(f"{part}: " + ", ".join(f"{k}={v}" for k, v in table.items() if not isinstance(v, dict))
                               for part, table in run.config["optimizer"].items()) if run.kind == "gan" else
        ", ".join(f"{k}={v}" for k, v in run.config["optimizer"].items() if not isinstance(v, dict)),
        "epochs": f"{metrics['epochs_run']} of {training['epochs']} (batch size {training['batch_size']}, "
        f"validation split {training['validation_split']})",
        "wall time": format_seconds(metrics["wall_time_s"]),
    }
    if metrics.get("distributed"):  # data-parallel under mpiexec (glassnet.distributed)
        d = metrics["distributed"]
        rows["ranks"] = (f"{d['ranks']} (MPI); step {' / '.join(f'{t:.2f}' for t in d['step_time_ms'])} ms per rank, "
                         f"of which allreduce {' / '.join(f'{t:.2f}' for t in d['comm_time_ms'])} ms")
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
    from .runs import divergence_message

    images = make_plots(run, run_dir, history) if plotting.available() else []
    providers = [report_section, *SECTION_PROVIDERS]
    sections = [s for provider in providers if (s := provider(run, run_dir, history, metrics))]
    report = Report(
        title=f"glassnet run {run_dir.name}",
        summary=summary_rows(run, run_dir, metrics),
        metrics={k: metrics.get(k) for k in ("train", "validation", "test")},
        config_text=dumps(run.config),
        model_text=summary_text(run.model),
        images=images,
        sections=[*sections, *extra_sections],
        notice="" if plotting.available() else no_plots_notice(),
        warning=metrics.get("interrupted", "") + (f"; resume with: {metrics['resume']}" if metrics.get("interrupted")
                                                  else "")
        or (divergence_message(epoch) if (epoch := metrics.get("diverged_at_epoch")) else ""),
    )
    path = run_dir / "report.html"
    write_report(path, report)
    return path


__all__ = ["SECTION_PROVIDERS", "make_plots", "register_section", "summary_rows", "write_plots_and_report"]
