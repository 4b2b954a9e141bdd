"""Hyperparameter search with Optuna over a ``glassnet train`` config (``glassnet tune``).

The search space is written in the config itself:

    [tune]
    metric = "val_accuracy"          # any history key; default val_loss (loss without validation)
    direction = "maximize"           # default: maximize for accuracy-like keys, else minimize
    [tune.space]
    "optimizer.learning_rate" = {log = [1e-4, 1e-1]}      # log-uniform float
    "training.batch_size" = {choice = [16, 32, 64]}       # categorical
    "model.layers.0.units" = {int = [16, 128]}            # integer (also {int = [16, 128], log = true})
    "optimizer.momentum" = {float = [0.0, 0.95]}          # uniform float

Each trial trains the config with the sampled values; its value is the best epoch's ``metric``, and
a median pruner stops trials whose per-epoch values fall behind (``MedianPruner``). Trials go to a
journal file in the tune folder, so an interrupted study resumes where it stopped. The best trial's
config is written as ``best.toml``, runnable by ``glassnet train``; ``report.html`` shows Optuna's
history, parameter importances and slice plots. Needs the extra ``glassnet[tune]`` (``optuna``).

The config-free core (spec checks, sampling, the pruning callback, the journal-backed study) lives in
the library module ``glassnet.tune``, which also offers ``gn.tune.optimize(build, space, x, y)`` for
Python users; this module adds what a TOML config needs (see docs/architecture.md).
"""

from __future__ import annotations

import copy
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .. import tune as core
from ..errors import ConfigError
from ..tune import SPEC_KINDS, sample  # noqa: F401  (SPEC_KINDS: kept importable here)
from . import config as config_module
from . import runs
from .report import Report, write_report
from .run_files import write_json, write_text

_optuna = core.load_optuna


@dataclass
class TuneResult:
    """What a study found: the folder, the best value and parameters, the best config, the study."""

    folder: Path
    best_value: float
    best_params: dict[str, Any]
    best_config: dict[str, Any]
    study: Any


def resolve_tune_table(config: dict[str, Any]) -> tuple[str, str, dict[str, dict[str, Any]]]:
    """(metric, direction, space) of the config's [tune] table, every spec checked."""
    table = dict(config.get("tune", {}))
    config_module.check_keys(table, ("metric", "direction", "space"), "tune")
    space = table.get("space")
    if not isinstance(space, dict) or not space:
        raise ConfigError('tune.space is missing or empty; e.g. [tune.space] "optimizer.learning_rate" = '
                          "{log = [1e-4, 1e-1]}")
    core.check_space(space, "tune.space")
    split = float(config.get("training", {}).get("validation_split", config_module.TRAINING_KEYS["validation_split"]))
    metric = str(table.get("metric", "val_loss" if split > 0 else "loss"))
    direction = core.check_direction(str(table.get("direction", core.default_direction(metric))))
    return metric, direction, space


def set_path(config: dict[str, Any], dotted: str, value: Any) -> None:
    """``config["optimizer"]["learning_rate"] = value`` for ``"optimizer.learning_rate"``; a number in the
    path indexes a list (``"model.layers.0.units"``)."""
    parts = dotted.split(".")
    node: Any = config
    for k, part in enumerate(parts[:-1]):
        if isinstance(node, list):
            if not part.isdigit() or int(part) >= len(node):
                raise ConfigError(f"tune.space.{dotted}: {'.'.join(parts[:k])} has {len(node)} entries, no {part!r}")
            node = node[int(part)]
        else:
            if part == "layers" and "layers" not in node:
                raise ConfigError(f"tune.space.{dotted}: the config has no [[model.layers]] to index")
            node = node.setdefault(part, {})
    if isinstance(node, list):
        raise ConfigError(f"tune.space.{dotted}: cannot set a list entry itself; name a key inside it")
    node[parts[-1]] = value


def _objective(base: dict[str, Any], metric: str, direction: str, space: dict[str, Any]) -> Any:
    def objective(trial: Any) -> float:
        config = copy.deepcopy(base)
        for key, spec in space.items():
            set_path(config, key, sample(trial, key, spec))
        setup = runs.setup(config)
        pruning = core.Pruning(trial, metric)
        training = setup.config["training"]
        setup.model.fit(setup.data.x_train, setup.data.y_train, epochs=training["epochs"],
                        batch_size=training["batch_size"], validation_split=training["validation_split"],
                        shuffle=training["shuffle"], verbose=0, seed=training["seed"], callbacks=[pruning])
        return pruning.best(direction)

    return objective


def optimize(config: dict[str, Any], trials: int, out: str | Path = "tune", timeout: float | None = None,
             seed: int = 0, name: str = "study") -> TuneResult:
    """Run (or resume) the study of ``config``'s [tune] table in ``out``; see the module docstring."""
    optuna = _optuna()
    config_module.check_tables(config)
    metric, direction, space = resolve_tune_table(config)
    # every default filled in (the default model's layers too), so each space path names a real entry
    resolved = runs.setup({k: v for k, v in config.items() if k != "tune"}).config
    for key, spec in space.items():
        set_path(copy.deepcopy(resolved), key, spec.get("choice", [None])[0])
    folder = Path(out)
    study = core.create_study(direction, out=folder, seed=seed, name=name)
    completed = core.run_study(study, _objective(resolved, metric, direction, space), trials, timeout)
    best = copy.deepcopy(resolved)
    for key, value in study.best_params.items():
        set_path(best, key, value)
    write_text(folder / "best.toml", config_module.dumps(best))
    summary = {"metric": metric, "direction": direction, "best_value": study.best_value,
               "best_params": study.best_params, "trials": len(study.trials), "completed": len(completed),
               "pruned": len([t for t in study.trials if t.state == optuna.trial.TrialState.PRUNED])}
    write_json(folder / "best.json", summary)
    _write_report(folder, study, summary)
    return TuneResult(folder, float(study.best_value), dict(study.best_params), best, study)


def _write_report(folder: Path, study: Any, summary: dict[str, Any]) -> None:
    from . import plotting

    optuna = _optuna()
    report = Report(
        title=f"glassnet tune: {study.study_name}",
        summary={k: summary[k] for k in ("metric", "direction", "best_value", "trials", "completed", "pruned")},
        metrics={},
        config_text=config_module.dumps({"best_params": {k.replace(".", "/"): v
                                                         for k, v in summary["best_params"].items()}}),
    )
    if plotting.available():
        from optuna.visualization import matplotlib as optuna_plots

        drawings = [("optimization history", optuna_plots.plot_optimization_history),
                    ("slice plots", optuna_plots.plot_slice)]
        if len(study.best_params) > 1 and summary["completed"] > 1:
            drawings.append(("parameter importances", optuna_plots.plot_param_importances))
        for caption, draw in drawings:
            with warnings.catch_warnings():  # optuna marks its matplotlib plots "experimental"
                warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
                axes = draw(study)
            first = axes.flat[0] if hasattr(axes, "flat") else axes
            path = folder / "plots" / f"{caption.replace(' ', '_')}.png"
            plotting.save_figure(first.figure, path)
            report.images.append((caption, path))
    write_report(folder / "report.html", report)


__all__ = ["TuneResult", "optimize", "resolve_tune_table", "sample", "set_path"]
