"""Hyperparameter search with Optuna, from Python: ``gn.tune.optimize(build, space, x, y, trials=20)``.

A search space maps a parameter name to one spec (the same specs as ``glassnet tune``'s TOML table):

    {"learning_rate": {"log": [1e-4, 1e-1]},     # log-uniform float
     "units": {"int": [16, 128]},                # integer (also {"int": [16, 128], "log": True})
     "dropout": {"float": [0.0, 0.5]},           # uniform float
     "optimizer": {"choice": ["adam", "sgd"]}}   # categorical

Each trial samples a value per name, ``build(params)`` returns a compiled model, ``fit`` trains it,
and the trial's value is the best epoch's ``metric`` (the largest for ``direction="maximize"``, else
the smallest; a diverged run, never finite, is pruned). A median pruner stops a trial whose
per-epoch values fall behind the median of earlier trials at the same epoch (``MedianPruner``, after
3 complete trials and 1 warm-up epoch). With ``out`` the trials go to a journal file,
``out/journal.log``, so calling ``optimize`` again with more trials resumes the study.

This module is the config-free core; ``glassnet.app.tune`` (``glassnet tune CONFIG``) builds its
objective from a TOML config, writes the best config and the report with Optuna's plots, and reuses
the spec checks, sampling, pruning callback and study set-up here. Needs ``glassnet[tune]`` (optuna).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from . import backend
from .callbacks import Callback
from .errors import ConfigError, MissingDependencyError

SPEC_KINDS = ("log", "float", "int", "choice")
_MAXIMIZED = ("acc", "auc", "precision", "recall", "f1", "r2")


def load_optuna() -> Any:
    """The ``optuna`` module (quiet), or a MissingDependencyError naming the extra."""
    try:
        import optuna
    except ImportError as exc:
        raise MissingDependencyError("tuning needs optuna; install it with: pip install 'glassnet[tune]'") from exc
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    return optuna


def default_direction(metric: str) -> str:
    """"maximize" for accuracy-like metric names (acc, auc, precision, recall, f1, r2), else "minimize"."""
    return "maximize" if any(word in metric for word in _MAXIMIZED) else "minimize"


def check_direction(direction: str, where: str = "tune.direction") -> str:
    if direction not in ("minimize", "maximize"):
        raise ConfigError(f'{where} must be "minimize" or "maximize", got {direction!r}')
    return direction


def check_spec(key: str, spec: Any, where: str = "tune.space") -> None:
    """A ConfigError naming ``where.key`` unless ``spec`` is one valid spec (see the module docstring)."""
    place = f"{where}.{key}"
    if not isinstance(spec, dict) or len([k for k in spec if k in SPEC_KINDS]) != 1:
        raise ConfigError(f"{place}: give exactly one of {', '.join(SPEC_KINDS)}, e.g. {{log = [1e-4, 1e-1]}}; "
                          f"got {spec!r}")
    kind = next(k for k in spec if k in SPEC_KINDS)
    allowed = (kind, "log") if kind == "int" else (kind,)
    unknown = sorted(set(spec) - set(allowed))
    if unknown:
        raise ConfigError(f"{place}: unknown key(s) {unknown}; a {kind} spec takes {', '.join(allowed)}")
    bounds = spec[kind]
    if kind == "choice":
        if not isinstance(bounds, list) or not bounds:
            raise ConfigError(f"{place}: choice must be a non-empty list, got {bounds!r}")
        return
    if not (isinstance(bounds, (list, tuple)) and len(bounds) == 2
            and all(isinstance(b, (int, float)) and not isinstance(b, bool) for b in bounds) and bounds[0] < bounds[1]):
        raise ConfigError(f"{place}: {kind} needs [low, high] with low < high, got {bounds!r}")
    if kind == "int" and not all(isinstance(b, int) for b in bounds):
        raise ConfigError(f"{place}: int bounds must be integers, got {bounds!r}")
    if (kind == "log" or spec.get("log")) and bounds[0] <= 0:
        raise ConfigError(f"{place}: a log scale needs low > 0, got {bounds!r}")


def check_space(space: Any, where: str = "tune.space") -> dict[str, dict[str, Any]]:
    """The space, every spec checked; a ConfigError for an empty or malformed one."""
    if not isinstance(space, dict) or not space:
        raise ConfigError(f'{where} is missing or empty; e.g. {{"optimizer.learning_rate": {{"log": [1e-4, 1e-1]}}}}')
    for key, spec in space.items():
        check_spec(key, spec, where)
    return space


def sample(trial: Any, key: str, spec: dict[str, Any]) -> Any:
    """One value for ``key`` from the trial, as the spec says."""
    if "log" in spec and not isinstance(spec["log"], bool):
        return trial.suggest_float(key, *spec["log"], log=True)
    if "float" in spec:
        return trial.suggest_float(key, *spec["float"])
    if "int" in spec:
        return trial.suggest_int(key, *spec["int"], log=bool(spec.get("log", False)))
    return trial.suggest_categorical(key, spec["choice"])


class Pruning(Callback):
    """Reports each epoch's ``metric`` to an Optuna trial and stops the trial when its pruner says so.

    ``values`` keeps the reported values (the trial's value is their best finite one).
    """

    def __init__(self, trial: Any, metric: str) -> None:
        super().__init__()
        self.trial, self.metric = trial, metric
        self.values: list[float] = []

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        logs = logs or {}
        if self.metric not in logs:
            raise ConfigError(f"tune: metric {self.metric!r} is not logged by this run; logged: {', '.join(logs)}; "
                              "hint: val_* metrics need validation data (validation_split > 0)")
        value = float(logs[self.metric])
        self.values.append(value)
        self.trial.report(value, epoch)
        if self.trial.should_prune():
            raise load_optuna().TrialPruned(f"pruned at epoch {epoch + 1}")

    def best(self, direction: str) -> float:
        """The best finite value so far; ``TrialPruned`` if none was finite (the run diverged)."""
        finite = [v for v in self.values if math.isfinite(v)]
        if not finite:
            raise load_optuna().TrialPruned("the metric was never finite (diverged)")
        return max(finite) if direction == "maximize" else min(finite)


def create_study(direction: str, out: str | Path | None = None, seed: int = 0, name: str = "study") -> Any:
    """A TPE (seeded) study with a MedianPruner; stored in ``out/journal.log`` (resumable) or in memory.

    A resumed study's sampler is seeded from ``[seed, trials already run]``: still reproducible, and it
    does not propose the points of the first trials again."""
    optuna = load_optuna()
    storage = None
    if out is not None:
        from optuna.storages import JournalStorage
        from optuna.storages.journal import JournalFileBackend

        folder = Path(out)
        folder.mkdir(parents=True, exist_ok=True)
        storage = JournalStorage(JournalFileBackend(str(folder / "journal.log")))
    study = optuna.create_study(study_name=name, storage=storage, direction=check_direction(direction),
                                load_if_exists=storage is not None, sampler=optuna.samplers.TPESampler(seed=seed),
                                pruner=optuna.pruners.MedianPruner(n_startup_trials=3, n_warmup_steps=1))
    done = len(study.trials)
    if done:  # resumed: a sampler seeded as at the start would propose the first trials' points again
        resumed_seed = int(np.random.SeedSequence([seed, done]).generate_state(1)[0])
        study.sampler = optuna.samplers.TPESampler(seed=resumed_seed)
    return study


def run_study(study: Any, objective: Callable[[Any], float], trials: int, timeout: float | None = None) -> list[Any]:
    """Run trials until the study holds ``trials`` finished ones (a resumed study runs only the rest);
    returns the complete trials, or raises a ConfigError if none completed."""
    optuna = load_optuna()
    if int(trials) < 1:
        raise ConfigError(f"tune: trials must be >= 1, got {trials!r}")
    done = len([t for t in study.trials if t.state.is_finished()])
    remaining = max(0, int(trials) - done)
    if remaining:
        study.optimize(objective, n_trials=remaining, timeout=timeout, catch=(FloatingPointError,))
    completed = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    if not completed:
        raise ConfigError("tune: no trial completed (all pruned or failed); widen the space or train longer")
    return completed


@dataclass
class StudyResult:
    """What ``optimize`` found: the best value and parameters, and the Optuna study (``study.trials``)."""

    best_value: float
    best_params: dict[str, Any]
    study: Any


def optimize(build: Callable[[dict[str, Any]], Any], space: dict[str, dict[str, Any]], x: Any, y: Any = None, *,
             trials: int = 20, metric: str = "val_loss", direction: str | None = None, epochs: int = 10,
             batch_size: int = 32, validation_split: float = 0.2, validation_data: Any = None,
             out: str | Path | None = None, seed: int = 0, timeout: float | None = None, name: str = "study",
             fit_kwargs: dict[str, Any] | None = None) -> StudyResult:
    """Search ``space`` for the parameters whose model, ``build(params)`` (compiled), fits ``(x, y)`` best.

    Args:
        build: params dict -> a compiled glassnet model (a fresh one per trial).
        space: name -> spec (see the module docstring).
        metric: A key of ``fit``'s history ("val_loss", "val_accuracy", ...).
        direction: "minimize" or "maximize" (default from the metric's name: ``default_direction``).
        epochs, batch_size, validation_split, validation_data: Passed to ``fit`` (with ``seed``,
            ``verbose=0`` and the pruning callback), as are ``fit_kwargs``.
        out: A folder for the journal file (resume by calling again); None keeps the study in memory.
        seed: Seeds the sampler, every trial's ``fit``, and the default generator while ``build`` runs
            (``[seed, trial number]``), so unseeded initializers give the same weights on every run.
        timeout: Seconds after which no new trial starts.
    """
    space = check_space(space, "space")
    direction = check_direction(direction or default_direction(metric), "direction")
    study = create_study(direction, out=out, seed=seed, name=name)

    def objective(trial: Any) -> float:
        params = {key: sample(trial, key, spec) for key, spec in space.items()}
        with backend.using_generator(np.random.default_rng([seed, trial.number])):  # seeded initial weights
            model = build(params)
        if not getattr(model, "_compiled", False):
            raise ConfigError(f"tune.optimize: build(params) must return a compiled model, got {model!r}; hint: "
                              "call model.compile(optimizer=..., loss=...) inside build")
        pruning = Pruning(trial, metric)
        model.fit(x, y, epochs=epochs, batch_size=batch_size, validation_split=validation_split,
                  validation_data=validation_data, verbose=0, seed=seed, callbacks=[pruning], **(fit_kwargs or {}))
        return pruning.best(direction)

    run_study(study, objective, trials, timeout)
    return StudyResult(float(study.best_value), dict(study.best_params), study)


__all__ = ["SPEC_KINDS", "Pruning", "StudyResult", "check_space", "check_spec", "create_study", "default_direction",
           "load_optuna", "optimize", "run_study", "sample"]
