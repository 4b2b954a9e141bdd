"""BackupAndRestore (issue 11, item 1): a run SIGKILLed at a random epoch and batch, then resumed,
ends bit-identical to the run that was never interrupted, with shuffling, Dropout, BatchNormalization,
an epoch-wise learning-rate schedule, ReduceLROnPlateau and EarlyStopping (restore_best_weights) on."""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import glassnet as gn

EPOCHS = 12
RUN = r"""
import json, os, signal, sys
import numpy as np
import glassnet as gn

backup, out, kill_epoch, kill_batch = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
rng = np.random.default_rng(0)
x = rng.normal(size=(120, 5)).astype(np.float32)
y = (x[:, 0] + x[:, 1] * x[:, 2] > 0).astype(int)
gn.set_seed(3)
model = gn.Sequential([gn.layers.Input(shape=(5,)), gn.layers.Dense(16, activation="relu"),
                       gn.layers.BatchNormalization(), gn.layers.Dropout(0.3),
                       gn.layers.Dense(2, activation="softmax")])
model.compile(optimizer=gn.optimizers.Adam(0.01), loss="sparse_categorical_crossentropy", metrics=["accuracy"])

class Kill(gn.callbacks.Callback):
    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch
    def on_batch_end(self, batch, logs=None):
        if self.epoch == kill_epoch and batch == kill_batch:
            os.kill(os.getpid(), signal.SIGKILL)

callbacks = [gn.callbacks.LearningRateScheduler(lambda epoch, lr: lr * 0.9),
             gn.callbacks.ReduceLROnPlateau(monitor="val_loss", patience=1, factor=0.5, min_delta=0.0),
             gn.callbacks.EarlyStopping(monitor="val_loss", patience=4, restore_best_weights=True),
             gn.callbacks.BackupAndRestore(backup), Kill()]
history = model.fit(x, y, epochs=EPOCHS, batch_size=16, validation_split=0.25, callbacks=callbacks, verbose=0,
                    seed=7)
np.savez(out + ".npz", *model.get_weights(), *model.optimizer.get_state().values())
json.dump({"history": history.history, "epoch": history.epoch, "metrics": model.evaluate(x, y),
           "lr": model.optimizer.learning_rate, "backup_left": os.path.exists(backup)}, open(out + ".json", "w"))
""".replace("EPOCHS", str(EPOCHS))


def _run(tmp_path, name, kill_epoch=-1, kill_batch=-1, backup="backup"):
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    args = [sys.executable, "-c", RUN, str(tmp_path / backup), str(tmp_path / name), str(kill_epoch), str(kill_batch)]
    return subprocess.run(args, env=env, capture_output=True, text=True, check=False)


def _result(tmp_path, name):
    with np.load(tmp_path / f"{name}.npz") as npz:
        arrays = [npz[k] for k in sorted(npz.files, key=lambda k: int(k.split("_")[1]))]
    return arrays, json.loads((tmp_path / f"{name}.json").read_text())


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("reference")
    done = _run(tmp, "reference", backup="ref_backup")
    assert done.returncode == 0, done.stderr
    return _result(tmp, "reference")


def test_the_reference_run_exercises_every_piece(reference):
    _, record = reference
    rates = record["history"]["learning_rate"]
    assert len(set(rates)) == len(rates) > 3  # the schedule and the plateau both change the rate
    assert not record["backup_left"]  # delete_checkpoint after a normal end


@pytest.mark.parametrize("point", range(5))
def test_killed_and_resumed_runs_are_bit_identical(reference, tmp_path, point):
    r = np.random.default_rng(point)  # seeded random kill points: 5 in CI
    n_epochs = len(reference[1]["epoch"])
    kill_epoch, kill_batch = int(r.integers(0, n_epochs)), int(r.integers(0, 6))
    killed = _run(tmp_path, "killed", kill_epoch, kill_batch)
    assert killed.returncode == -9, killed.stderr
    assert (tmp_path / "backup" / "state.json").exists() == (kill_epoch > 0)
    resumed = _run(tmp_path, "resumed")
    assert resumed.returncode == 0, resumed.stderr
    arrays, record = _result(tmp_path, "resumed")
    ref_arrays, ref_record = reference
    assert len(arrays) == len(ref_arrays)
    for a, b in zip(arrays, ref_arrays):
        assert a.dtype == b.dtype and np.array_equal(a, b)  # bit for bit, not allclose
    assert record == ref_record


def test_a_killed_backup_write_leaves_the_previous_backup(tmp_path, rng):
    from glassnet.callbacks.backup import read_state

    x, y = rng.normal(size=(20, 3)), rng.normal(size=(20, 1))
    model = gn.Sequential([gn.layers.Input(shape=(3,)), gn.layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    model.fit(x, y, epochs=2, callbacks=[gn.callbacks.BackupAndRestore(tmp_path, delete_checkpoint=False)],
              verbose=0, seed=0)
    assert read_state(Path(tmp_path))["epoch"] == 2
    assert sorted(p.name for p in Path(tmp_path).iterdir()) == ["arrays-000002.npz", "model-000002.glassnet",
                                                                  "state.json"]
    history = model.fit(x, y, epochs=2, callbacks=[gn.callbacks.BackupAndRestore(tmp_path)], verbose=0, seed=0)
    assert history.epoch == [0, 1]  # nothing left to do: the backup said 2 of 2 epochs were done
    assert not Path(tmp_path).exists()


def test_a_backup_of_another_model_is_refused(tmp_path, rng):
    x, y = rng.normal(size=(20, 3)), rng.normal(size=(20, 1))
    small = gn.Sequential([gn.layers.Input(shape=(3,)), gn.layers.Dense(1)])
    small.compile(optimizer="sgd", loss="mse")
    small.fit(x, y, epochs=1, callbacks=[gn.callbacks.BackupAndRestore(tmp_path, delete_checkpoint=False)],
              verbose=0)
    other = gn.Sequential([gn.layers.Input(shape=(3,)), gn.layers.Dense(2), gn.layers.Dense(1)])
    other.compile(optimizer="sgd", loss="mse")
    with pytest.raises(gn.ModelFileError, match="different model"):
        other.fit(x, y, epochs=2, callbacks=[gn.callbacks.BackupAndRestore(tmp_path)], verbose=0)
    with pytest.raises(gn.ConfigError, match="save_freq"):
        gn.callbacks.BackupAndRestore(tmp_path, save_freq=10)
