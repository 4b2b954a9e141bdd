"""A training run from a config: resolve it, train, and fill the run folder.

runs/<name>-<YYYYmmdd-HHMMSS>/
    config.toml      the resolved config (every default written out; re-running it repeats the run)
    model.glassnet   the trained model (``gn.load_model``)
    history.csv      one row per epoch: loss, metrics, their validation values, learning rate
    metrics.json     status (running, completed, diverged, interrupted, failed), final train/validation/test
                     metrics, wall time, parameter counts
    inputs.json      for CSV data: the feature columns, which ``glassnet predict`` matches by name
    backup/          the last complete epoch (BackupAndRestore) until the run finishes: ``--resume``
    plots/*.png      curves, confusion matrix, decision boundary, predicted vs true (with matplotlib)
    report.html      one self-contained page with all of the above
"""

from __future__ import annotations

import functools
import math
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .. import backend, distributed, layers, losses
from .._version import __version__
from ..callbacks.backup import BackupAndRestore
from ..callbacks.backup import read_state as read_backup_state
from ..diagnostics import FitDiagnosis, GradientMonitor
from ..diagnostics.attention_monitor import AttentionMonitor
from ..errors import ConfigError, GlassnetError, UnknownNameError
from ..models import Sequential
from . import (
    recurrent_report,  # noqa: F401  (registers the report's Gradient through time section)
    sequence_report,  # noqa: F401  (registers the text/sort report section at import)
)
from .config import DEFAULT_OPTIMIZER, TRAINING_KEYS, check_tables, dumps, number, resolve_training
from .config_build import build_callbacks, build_loss, build_model, build_optimizer
from .config_data import PreparedData, prepare, resolve_data_table, training_rows
from .csv_inputs import write_inputs
from .report_conv import conv_section  # noqa: F401  (importing it registers the report's conv section)
from .run_control import StopOnSignal
from .run_files import make_run_dir, write_history_csv, write_json, write_text
from .sequence_data import sequence_metrics, write_vocabulary


@dataclass
class RunSetup:
    """Everything a run needs, checked before anything is trained or written."""

    config: dict[str, Any]
    data: PreparedData
    model: Sequential
    name: str
    kind: str = "sequential"  # or a generative [model] kind (glassnet.app.generative_runs): trains on x alone
    callbacks: list[Any] = field(default_factory=list)  # added to the fit by the run itself (not configurable)


def first_layer_input_rank(model_table: dict[str, Any]) -> int | None:
    """The ``input_rank`` the first configured layer's class declares (axes per sample, e.g. 3 for
    Conv2D), or None (Dense and the default model take one feature vector)."""
    specs = model_table.get("layers") or model_table.get("encoder") or model_table.get("discriminator") or []
    kind = specs[0].get("type") if specs and isinstance(specs[0], dict) else None
    try:
        cls = layers.LAYERS.lookup_class(kind)
    except GlassnetError:
        return None  # reported with its position when the model is built
    return getattr(cls, "input_rank", None)


def resolve_data(config: dict[str, Any], seed: int) -> tuple[dict[str, Any], dict[str, Any], PreparedData]:
    """Resolved [data] and [preprocessing] tables and the prepared arrays (the scaler fitted on the rows
    that train, without the ``[training] validation_split`` rows)."""
    data_table = resolve_data_table(dict(config.get("data", {})), seed)
    training = {**TRAINING_KEYS, **config.get("training", {})}
    split = number(training, "validation_split", "training", 0.0, 1.0)
    rank = first_layer_input_rank(config.get("model", {}))
    prep_table, data = prepare(data_table, dict(config.get("preprocessing", {})), backend.floatx(), split, rank)
    data_table["task"] = data.task
    return data_table, prep_table, data


def setup(
    config: dict[str, Any], epochs: int | None = None, seed: int | None = None, name: str | None = None
) -> RunSetup:
    """Validate ``config`` (command-line overrides applied), load the data, build and compile the model."""
    check_tables(config)
    training_raw = dict(config.get("training", {}))
    if epochs is not None:
        training_raw["epochs"] = epochs
    if seed is not None:
        training_raw["seed"] = seed
    from .generative_runs import generative_kind, setup_generative

    if generative_kind(config):
        return setup_generative(config, training_raw, name)  # type: ignore[no-any-return]
    train_seed = number({**TRAINING_KEYS, **training_raw}, "seed", "training", 0, integer=True)
    data_table, prep_table, data = resolve_data(config, train_seed)
    training = resolve_training({"training": training_raw}, data.task)
    model_table, model = build_model(dict(config.get("model", {})), data, train_seed, f"{data_table['name']}_model")
    loss_table, loss = build_loss(dict(config.get("loss", {})), data)
    opt_table, optimizer = build_optimizer(dict(config.get("optimizer", {})), DEFAULT_OPTIMIZER)
    check_output_width(model, loss, data, len(model_table["layers"]) - 1)
    try:
        model.compile(optimizer=optimizer, loss=loss, metrics=list(training["metrics"]))
    except UnknownNameError as exc:
        raise ConfigError(f"training.metrics: {exc}") from None
    specs = [dict(spec) for spec in config.get("callbacks", [])]
    build_callbacks([dict(spec) for spec in specs], None)  # refuse bad callbacks before training starts
    resolved = {
        "data": data_table,
        "preprocessing": prep_table,
        "model": model_table,
        "loss": loss_table,
        "optimizer": opt_table,
        "training": training,
        "callbacks": specs,
    }
    return RunSetup(resolved, data, model, name or str(data_table["name"]))


def check_output_width(model: Sequential, loss: Any, data: PreparedData, last: int) -> None:
    """Refuse a model whose last layer cannot fit the targets: one output per class (one sigmoid unit
    also serves two classes with a non-categorical loss), one per target column for regression."""
    shape = model.output_shape
    if shape is None:  # not built: nothing to compare yet
        return
    width = int(shape[-1])
    categorical = isinstance(loss, (losses.CategoricalCrossentropy, losses.SparseCategoricalCrossentropy))
    if data.task == "classification":
        k = int(data.n_classes or 2)
        if width == k or (k == 2 and width == 1 and not categorical):
            return
        hint = f'end with [[model.layers]] type = "Dense", units = {k}, activation = "softmax"'
        if k == 2:
            hint += ' (or units = 1, activation = "sigmoid" with [loss] name = "binary_crossentropy")'
        raise ConfigError(
            f"model.layers[{last}]: the last layer gives {width} outputs but the data has {k} classes; hint: {hint}"
        )
    if width != data.n_outputs:
        raise ConfigError(
            f"model.layers[{last}]: the last layer gives {width} outputs but the data has "
            f'{data.n_outputs} target column(s); hint: end with [[model.layers]] type = "Dense", '
            f"units = {data.n_outputs} (no activation, for regression)"
        )


def _split_for_validation(data: PreparedData, split: float) -> tuple[Any, Any, Any, Any]:
    """The same cut ``fit`` makes: the last ``split`` fraction of the training arrays validates."""
    cut = training_rows(len(data.x_train), split)
    return data.x_train[:cut], data.y_train[:cut], data.x_train[cut:], data.y_train[cut:]


def final_metrics(model: Sequential, data: PreparedData, split: float,
                  targets: bool = True) -> dict[str, dict[str, float] | None]:
    """Loss and metrics on the training part, the validation part (if any) and the test set (on the
    inputs alone without ``targets``: a generative model)."""
    x_fit, y_fit, x_val, y_val = _split_for_validation(data, split)
    if not targets:
        return {"train": model.evaluate(x_fit), "validation": model.evaluate(x_val) if len(x_val) else None,
                "test": model.evaluate(data.x_test) if len(data.x_test) else None}
    return {
        "train": model.evaluate(x_fit, y_fit),
        "validation": model.evaluate(x_val, y_val) if len(x_val) else None,
        "test": model.evaluate(data.x_test, data.y_test) if len(data.x_test) else None,
    }


def diverged_at(history: dict[str, list[float]]) -> int | None:
    """The first epoch (from 1) whose training or validation loss is inf or nan; ``None`` if none is."""
    for key in ("loss", "val_loss"):
        for epoch, value in enumerate(history.get(key, []), start=1):
            if not math.isfinite(value):
                return epoch
    return None


def divergence_message(epoch: int) -> str:
    return (
        f"training diverged: the loss is inf or nan from epoch {epoch} on; hint: lower "
        'optimizer.learning_rate (e.g. by 10x), or scale the inputs with [preprocessing] scaler = "standard"'
    )


@dataclass
class RunResult:
    run_dir: Path
    metrics: dict[str, Any]
    history: dict[str, list[float]]


def train(run: RunSetup, out: str | Path = "runs", verbose: int = 1, resume: str | Path | None = None) -> RunResult:
    """Train ``run.model`` as configured and write the run folder; returns where and the final numbers.

    Every epoch is backed up in ``<run>/backup`` (``BackupAndRestore``); ``resume`` (a run folder)
    continues such a run. SIGINT/SIGTERM stop after the current batch and the folder is written for the
    epochs done (``metrics["status"] == "interrupted"``); a failure leaves ``status: "failed"``.
    """
    from . import attention_report  # noqa: F401  (registers the report's Attention section)
    from .run_report import write_plots_and_report

    comm = distributed.world()  # under mpiexec: data-parallel over the ranks, files from rank 0 only
    lead = comm.rank == 0
    if resume is not None:
        run_dir = Path(resume)
    else:
        run_dir = comm.bcast_object(make_run_dir(Path(out), run.name) if lead else None)
        if lead:
            write_text(run_dir / "config.toml", dumps(run.config))
    if lead:
        write_json(run_dir / "metrics.json", {"status": "running", "glassnet_version": __version__})
        write_inputs(run_dir, run.config["data"])  # predict matches CSV columns by these names
        write_vocabulary(run_dir, run.data)  # text runs: generation after gn.load_model needs it
    training = run.config["training"]
    callbacks = build_callbacks([dict(spec) for spec in run.config["callbacks"]], run_dir)
    callbacks.extend(run.callbacks)
    callbacks.append(BackupAndRestore(run_dir / "backup", delete_checkpoint=False))
    diagnose = training["diagnose"] and not any(isinstance(cb, GradientMonitor) for cb in callbacks)
    if diagnose:  # the glass box by default: gradient flow, dead units, update ratios -> report's Diagnosis
        callbacks.append(FitDiagnosis.for_fit(run.data.x_train, training["seed"]))
        attention = AttentionMonitor.for_fit(run.model, run.data.x_train, training["validation_split"])
        callbacks += [attention] if attention is not None else []  # head entropies -> report's Attention
    start = time.perf_counter()
    fit = run.model.fit if comm.size == 1 else functools.partial(distributed.fit, run.model, comm=comm)
    stopper = StopOnSignal(run.model)
    try:
        with stopper:
            history = fit(
                run.data.x_train,
                run.data.y_train if run.kind == "sequential" else None,  # generative: fit(x)
                epochs=training["epochs"],
                batch_size=training["batch_size"],
                validation_split=training["validation_split"],
                shuffle=training["shuffle"],
                callbacks=callbacks,
                verbose=verbose,
                seed=training["seed"],
            )
    except BaseException as exc:
        if lead:
            write_json(run_dir / "metrics.json", failed_metrics(exc, run_dir))
        raise
    wall = time.perf_counter() - start
    if diagnose and verbose and lead:
        from ..diagnostics.shortcut import print_findings

        print_findings(history)
    metrics: dict[str, Any] = dict(final_metrics(run.model, run.data, training["validation_split"],
                                                    targets=run.kind == "sequential"))
    trainable = sum(p.size for p in run.model.parameters(trainable_only=True))
    metrics.update(
        {
            "wall_time_s": round(wall, 3),
            "epochs_run": len(history.epoch),
            "parameters": {"total": sum(p.size for p in run.model.parameters()), "trainable": trainable},
            "task": run.data.task,
            "samples": {"train": len(run.data.x_train), "test": len(run.data.x_test)},
            "seed": training["seed"],
            "glassnet_version": __version__,
            "diverged_at_epoch": diverged_at(history.history),
        }
    )
    metrics.update(run_status(stopper, metrics, training["epochs"], run_dir))
    if comm.size > 1:
        metrics["distributed"] = distributed_summary(history.distributed)  # type: ignore[attr-defined]
    if not lead:
        return RunResult(run_dir, metrics, history.history)
    metrics.update(sequence_metrics(run.model, run.data, metrics))  # bits/char, exact-sequence accuracy
    run.model.save(run_dir / "model.glassnet")
    write_history_csv(run_dir / "history.csv", history.history)
    write_json(run_dir / "metrics.json", metrics)
    write_plots_and_report(run, run_dir, history.history, metrics)
    if metrics["status"] != "interrupted":
        shutil.rmtree(run_dir / "backup", ignore_errors=True)  # the run folder now holds the finished model
    return RunResult(run_dir, metrics, history.history)


def run_status(stopper: StopOnSignal, metrics: dict[str, Any], epochs: int, run_dir: Path) -> dict[str, Any]:
    """``status`` (completed, diverged or interrupted) and, if interrupted, where and how to resume."""
    if stopper.signum is None:
        return {"status": "diverged" if metrics.get("diverged_at_epoch") else "completed"}
    state = read_backup_state(run_dir / "backup")
    return {
        "status": "interrupted",
        "interrupted": f"interrupted at epoch {metrics['epochs_run']} of {epochs} by {stopper.name}",
        "interrupted_at_epoch": metrics["epochs_run"],
        "epochs_backed_up": int(state["epoch"]) if state else 0,
        "exit_code": stopper.exit_code,
        "resume": f"glassnet train --resume {run_dir}",
    }


def failed_metrics(exc: BaseException, run_dir: Path) -> dict[str, Any]:
    """What metrics.json says of a run that raised: failed, why, and how far its backup got."""
    state = read_backup_state(run_dir / "backup")
    return {
        "status": "failed",
        "error": f"{type(exc).__name__}: {exc}".strip(),
        "epochs_backed_up": int(state["epoch"]) if state else 0,
        "resume": f"glassnet train --resume {run_dir}" if state else None,
        "glassnet_version": __version__,
    }


def distributed_summary(record: dict[str, Any]) -> dict[str, Any]:
    """Ranks and, per rank, the mean step time and the gradient Allreduce's part of it (milliseconds)."""
    steps = max(int(record["steps"]), 1)
    return {
        "ranks": record["ranks"],
        "step_time_ms": [round(1e3 * s / steps, 3) for s in record["step_s"]],
        "comm_time_ms": [round(1e3 * s / steps, 3) for s in record["comm_s"]],
        "gradient_bytes": record["gradient_bytes"],
    }


__all__ = [
    "RunResult",
    "RunSetup",
    "check_output_width",
    "distributed_summary",
    "diverged_at",
    "divergence_message",
    "failed_metrics",
    "final_metrics",
    "resolve_data",
    "run_status",
    "setup",
    "train",
]
