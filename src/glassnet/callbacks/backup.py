"""``BackupAndRestore``: a run killed at any moment resumes where it stopped, bit for bit (Keras' name).

After every complete epoch the callback writes, into ``backup_dir``:

    model-<epochs done>.glassnet  weights (moving statistics included) and optimizer state (slots,
                                  iterations, learning rate)
    arrays-<epochs done>.npz      arrays held by callbacks (EarlyStopping's best weights)
    state.json                    the epoch count, the state of every random generator (fit's shuffling
                                  generator, each layer's generator such as Dropout's, glassnet's default
                                  generator), each callback's counters (EarlyStopping's best/wait,
                                  ReduceLROnPlateau's best/wait/cooldown, ModelCheckpoint's best), the
                                  optimizer's learning rate and the history so far

Each file is written atomically (temporary file, fsync, rename) and ``state.json``, written last, names
the model and array files it belongs to; older files are removed only after it is in place. So a kill
at any instant leaves either the previous complete backup or the new one. ``fit`` with the callback
reads ``state.json`` at the start and continues with the next epoch; the weights, history and metrics
then equal those of a run that was never interrupted, bit for bit (same machine, same BLAS threads).

An epoch cut short (``TerminateOnNaN``, Ctrl-C in ``glassnet train``) is not backed up, and the backup
is kept: resuming redoes that epoch. When training ends normally the backup is deleted
(``delete_checkpoint=True``).
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

import numpy as np

from .._zipfiles import npz_bytes
from ..errors import ConfigError, ModelFileError
from .base import Callback, FitState, Logs

STATE_FILE = "state.json"
FORMAT = "glassnet-backup"

# Attributes that make up a built-in callback's state (its configuration is rebuilt by the caller).
CALLBACK_STATE: dict[str, tuple[str, ...]] = {
    "EarlyStopping": ("wait", "stopped_epoch", "best", "best_epoch", "best_weights"),
    "ReduceLROnPlateau": ("best", "wait", "cooldown_counter"),
    "ModelCheckpoint": ("best", "last_path"),
    "CSVLogger": (),
    "LearningRateScheduler": (),
    "TerminateOnNaN": (),
}


class BackupAndRestore(Callback):
    """Back up the whole training state after each epoch; ``fit`` resumes from it after a crash.

    Args:
        backup_dir: Folder for the backup (created if needed). Use one folder per run.
        save_freq: ``"epoch"`` (the only choice: a backup inside an epoch could not resume exactly).
        delete_checkpoint: Delete the backup when ``fit`` finishes normally.

    A callback of your own takes part by defining ``get_state() -> dict`` (JSON values or lists of
    arrays) and ``set_state(dict)``.
    """

    def __init__(self, backup_dir: str | os.PathLike[str], save_freq: Any = "epoch",
                 delete_checkpoint: bool = True) -> None:
        super().__init__()
        if save_freq != "epoch":
            raise ConfigError(f"BackupAndRestore: save_freq must be 'epoch', got {save_freq!r}; hint: a backup "
                              "in the middle of an epoch could not resume bit for bit")
        if not os.fspath(backup_dir):
            raise ConfigError("BackupAndRestore: backup_dir must be a folder name, got ''")
        self.backup_dir = Path(backup_dir)
        self.save_freq = save_freq
        self.delete_checkpoint = bool(delete_checkpoint)
        self._state: FitState | None = None
        self._steps_at_begin = 0
        self._last_epoch_complete = True
        self.restored_epoch: int | None = None  # epochs done in the backup that fit resumed from

    # -- the hooks -----------------------------------------------------------------------------
    def on_epoch_begin(self, epoch: int, logs: Logs | None = None) -> None:
        self._steps_at_begin = self.model.optimizer.iterations  # no batch hook: fit stays as fast

    def restore_run(self, state: FitState) -> int | None:
        self._state = state
        saved = read_state(self.backup_dir)
        if saved is None:
            return None
        restore(self.backup_dir, saved, self.model, state, self._others())
        self.restored_epoch = int(saved["epoch"])
        return state.epochs if saved.get("stop_training") else self.restored_epoch

    def after_epoch(self, epoch: int) -> None:
        steps = self.model.optimizer.iterations - self._steps_at_begin
        self._last_epoch_complete = steps >= int(self.params.get("steps", 0) or 0)
        if self._state is None or not self._last_epoch_complete:
            return  # a cut-short epoch is redone on resume
        write_backup(self.backup_dir, epoch + 1, self.model, self._state, self._others())

    def on_train_end(self, logs: Logs | None = None) -> None:
        if self.delete_checkpoint and self._last_epoch_complete and self.backup_dir.exists():
            shutil.rmtree(self.backup_dir, ignore_errors=True)

    def _others(self) -> list[Callback]:
        """The callbacks of this fit (History and the progress bar excluded), in order."""
        from .history import History
        from .progress import ProgbarLogger

        found = self._state.callbacks if self._state is not None else []
        return [cb for cb in found if cb is not self and not isinstance(cb, (History, ProgbarLogger))]


# -- writing -----------------------------------------------------------------------------------------
def _generators(model: Any) -> dict[str, Any]:
    """Every np.random.Generator held by a layer of ``model`` (nested models included), by position."""
    found: dict[str, Any] = {}

    def walk(layer: Any, path: str) -> None:
        for attr, value in sorted(vars(layer).items()):
            if isinstance(value, np.random.Generator):
                found[f"{path}:{attr}"] = value
        for k, sub in enumerate(getattr(layer, "layers", []) or []):
            walk(sub, f"{path}/{k}.{sub.name}")

    walk(model, "model")
    return found


def _callback_key(k: int, cb: Callback) -> str:
    return f"{k}:{type(cb).__name__}"


def _callback_state(cb: Callback) -> dict[str, Any] | None:
    getter = getattr(cb, "get_state", None)
    if callable(getter):
        return dict(getter())
    names = CALLBACK_STATE.get(type(cb).__name__)
    return None if names is None else {name: getattr(cb, name, None) for name in names}


def _plain(value: Any) -> Any:
    if isinstance(value, (np.floating, np.integer, np.bool_)):
        return value.item()
    return value


def write_backup(folder: Path, epochs_done: int, model: Any, fit: FitState, callbacks: list[Callback]) -> None:
    """Write the backup of a run after ``epochs_done`` complete epochs (see the module docstring)."""
    from .. import backend
    from .._files import atomic_write

    folder.mkdir(parents=True, exist_ok=True)
    model_name, arrays_name = f"model-{epochs_done:06d}.glassnet", f"arrays-{epochs_done:06d}.npz"
    model.save(folder / model_name, include_optimizer=True)
    arrays: dict[str, np.ndarray] = {}
    states: dict[str, Any] = {}
    for k, cb in enumerate(callbacks):
        state = _callback_state(cb)
        if state is None:
            continue
        key, plain = _callback_key(k, cb), {}
        for name, value in state.items():
            if isinstance(value, list) and value and all(isinstance(v, np.ndarray) for v in value):
                for j, array in enumerate(value):
                    arrays[f"c{k}_{name}_{j}"] = array
                plain[name] = {"arrays": len(value)}
            else:
                plain[name] = _plain(value)
        states[key] = plain

    def write_arrays(handle: Any) -> None:
        handle.write(npz_bytes(arrays))

    atomic_write(folder / arrays_name, write_arrays)
    optimizer = model.optimizer
    record = {
        "format": FORMAT,
        "epoch": epochs_done,
        "model": model_name,
        "arrays": arrays_name,
        "stop_training": bool(model.stop_training),
        "fit_rng": fit.rng.bit_generator.state,
        "default_rng": backend.generator().bit_generator.state,
        "layer_rngs": {key: g.bit_generator.state for key, g in _generators(model).items()},
        "learning_rate": None if callable(optimizer.learning_rate) else float(optimizer.learning_rate),
        "last_learning_rate": optimizer.last_learning_rate,
        "callbacks": states,
        "history": {key: [_plain(v) for v in values] for key, values in fit.history.history.items()},
        "history_epochs": list(fit.history.epoch),
    }
    text = json.dumps(record)
    atomic_write(folder / STATE_FILE, lambda handle: handle.write(text.encode()))
    for path in folder.iterdir():
        if path.name.startswith(("model-", "arrays-")) and path.name not in (model_name, arrays_name):
            path.unlink(missing_ok=True)


# -- reading -----------------------------------------------------------------------------------------
def read_state(folder: Path) -> dict[str, Any] | None:
    """The backup's state.json, or None if the folder holds no backup."""
    path = folder / STATE_FILE
    if not path.exists():
        return None
    try:
        saved = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise ModelFileError(f"{path}: damaged backup ({exc}); hint: delete the folder to start over") from None
    if not isinstance(saved, dict) or saved.get("format") != FORMAT or not isinstance(saved.get("epoch"), int):
        raise ModelFileError(f"{path}: not a glassnet backup; hint: give BackupAndRestore a folder of its own")
    return saved


def restore(folder: Path, saved: dict[str, Any], model: Any, fit: FitState, callbacks: list[Callback]) -> None:
    """Put the saved run back into ``model``, the generators, the callbacks and the history."""
    from .. import backend

    try:
        model.restore_state(folder / str(saved["model"]))  # the model's own method: callbacks sit below models
        if saved["learning_rate"] is not None and not callable(model.optimizer.learning_rate):
            model.optimizer.learning_rate = float(saved["learning_rate"])
        model.optimizer.last_learning_rate = saved["last_learning_rate"]
        fit.rng.bit_generator.state = saved["fit_rng"]
        backend.generator().bit_generator.state = saved["default_rng"]
        generators = _generators(model)
        if set(generators) != set(saved["layer_rngs"]):
            raise ModelFileError(f"{folder}: the backup's random generators {sorted(saved['layer_rngs'])} do not "
                                 f"match the model's {sorted(generators)}")
        for key, generator in generators.items():
            generator.bit_generator.state = saved["layer_rngs"][key]
        with np.load(folder / str(saved["arrays"]), allow_pickle=False) as npz:
            arrays = {key: npz[key] for key in npz.files}
        _restore_callbacks(saved["callbacks"], callbacks, arrays, folder)
        fit.history.history = {key: list(values) for key, values in saved["history"].items()}
        fit.history.epoch = [int(e) for e in saved["history_epochs"]]
    except (KeyError, TypeError, ValueError, OSError) as exc:
        if isinstance(exc, ModelFileError):
            raise
        raise ModelFileError(f"{folder}: damaged backup ({type(exc).__name__}: {exc}); hint: delete the folder "
                             "to start over") from None


def _restore_callbacks(states: dict[str, Any], callbacks: list[Callback], arrays: dict[str, Any],
                       folder: Path) -> None:
    for k, cb in enumerate(callbacks):
        key = _callback_key(k, cb)
        if _callback_state(cb) is None:
            continue
        if key not in states:
            raise ModelFileError(f"{folder}: the backup has no state for callback {key}; hint: resume with the "
                                 "same callbacks, in the same order")
        values = {}
        for name, value in states[key].items():
            if isinstance(value, dict) and set(value) == {"arrays"}:
                value = [arrays[f"c{k}_{name}_{j}"] for j in range(int(value["arrays"]))]
            values[name] = value
        setter = getattr(cb, "set_state", None)
        if callable(setter):
            setter(values)
        else:
            for name, value in values.items():
                setattr(cb, name, value)
