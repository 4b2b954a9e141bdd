"""Callbacks: EarlyStopping (the notes' table), ModelCheckpoint, CSVLogger, TerminateOnNaN, History."""

from __future__ import annotations

import csv

import numpy as np
import pytest

import glassnet as gn
from glassnet.callbacks import Callback, CSVLogger, EarlyStopping, History, ModelCheckpoint, TerminateOnNaN
from glassnet.layers import Dense, Input

NOTES_VAL_LOSS = [0.50, 0.40, 0.35, 0.36, 0.38]


class _EpochModel:
    """A stand-in model whose "weights" record the epoch that produced them."""

    def __init__(self) -> None:
        self.stop_training = False
        self.weights = [np.array(-1.0)]

    def get_weights(self):
        return [w.copy() for w in self.weights]

    def set_weights(self, weights):
        self.weights = [w.copy() for w in weights]


def _drive(callback, values, model=None, key="val_loss"):
    """Run the callback protocol over per-epoch values; return the epoch after which training stopped."""
    model = model or _EpochModel()
    callback.set_model(model)
    callback.on_train_begin({})
    stopped_after = None
    for epoch, value in enumerate(values):
        callback.on_epoch_begin(epoch, {})
        model.weights = [np.array(float(epoch))]  # what "training" produced this epoch
        callback.on_epoch_end(epoch, {"loss": 1.0, key: value})
        if model.stop_training:
            stopped_after = epoch
            break
    callback.on_train_end({})
    return model, stopped_after


def test_notes_table_stops_after_epoch_5_and_restores_epoch_3():
    model, stopped_after = _drive(
        EarlyStopping(patience=2, restore_best_weights=True), NOTES_VAL_LOSS + [0.1]
    )
    assert stopped_after == 4  # 0-based: the fifth epoch
    assert model.weights[0] == 2.0  # the third epoch's weights


def test_notes_table_counters():
    callback = EarlyStopping(patience=2)
    model, stopped_after = _drive(callback, NOTES_VAL_LOSS)
    assert (callback.stopped_epoch, callback.best_epoch, callback.best) == (4, 2, 0.35)
    assert callback.wait == 2
    assert model.weights[0] == 4.0  # restore_best_weights=False keeps the last weights


def test_restore_best_weights_also_when_the_last_epoch_is_reached():
    callback = EarlyStopping(patience=2, restore_best_weights=True)
    model, stopped_after = _drive(callback, NOTES_VAL_LOSS[:4])  # fit ends before patience runs out
    assert stopped_after is None and callback.stopped_epoch == 0
    assert model.weights[0] == 2.0


@pytest.mark.parametrize(
    "kwargs, values, stop",
    [
        ({"patience": 0}, [1.0, 1.0], 1),
        ({"patience": 0}, [1.0], None),  # never stops on the first epoch
        ({"patience": 1, "min_delta": 0.05}, [1.0, 0.97, 0.96], 1),  # 0.03 < min_delta is no improvement
        ({"monitor": "val_accuracy", "patience": 2}, [0.5, 0.6, 0.55, 0.7], None),  # auto -> max
        ({"monitor": "val_accuracy", "patience": 2}, [0.5, 0.6, 0.55, 0.52], 3),
        ({"patience": 2, "baseline": 0.3}, [0.5, 0.6, 0.6], 1),  # 0.5 improved but missed the baseline
        ({"patience": 2}, [0.5, 0.6, 0.6], 2),
        ({"patience": 1, "start_from_epoch": 2}, [0.1, 0.9, 0.9, 0.9, 0.9], 3),
        ({"patience": 1, "mode": "max"}, [1.0, 0.5], 1),
    ],
)
def test_early_stopping_options(kwargs, values, stop):
    key = kwargs.get("monitor", "val_loss")
    _, stopped_after = _drive(EarlyStopping(**kwargs), values, key=key)
    assert stopped_after == stop


def test_missing_monitor_key_lists_the_available_keys():
    callback = EarlyStopping(monitor="val_loss")
    callback.set_model(_EpochModel())
    callback.on_train_begin({})
    with pytest.raises(gn.ConfigError, match=r"'val_loss'.*available keys: accuracy, loss.*validation"):
        callback.on_epoch_end(0, {"loss": 0.3, "accuracy": 0.9})


@pytest.mark.parametrize("kwargs", [{"patience": -1}, {"mode": "best"}, {"start_from_epoch": 1.5}])
def test_bad_early_stopping_settings_are_refused(kwargs):
    with pytest.raises(gn.ConfigError, match=next(iter(kwargs))):
        EarlyStopping(**kwargs)


class _InjectValLoss(Callback):
    """Replaces val_loss with scripted values (runs before EarlyStopping) and records the weights."""

    def __init__(self, values):
        super().__init__()
        self.values = values
        self.weights = []

    def on_epoch_end(self, epoch, logs=None):
        logs["val_loss"] = self.values[epoch]
        self.weights.append(self.model.get_weights())


def _regression(rng, n=48):
    x = rng.normal(size=(n, 3)).astype(np.float32)
    return x, x @ np.array([[1.0], [-1.0], [2.0]], dtype=np.float32)


def _model():
    model = gn.Sequential([Input(shape=(3,)), Dense(4, activation="tanh"), Dense(1)])
    model.compile(optimizer=gn.optimizers.SGD(learning_rate=0.05), loss="mse")
    return model


@pytest.mark.parametrize("epochs, expected_epochs", [(20, 5), (4, 4)])
def test_early_stopping_end_to_end_in_fit(rng, epochs, expected_epochs):
    x, y = _regression(rng)
    model = _model()
    inject = _InjectValLoss(NOTES_VAL_LOSS + [0.1] * 20)
    stopper = EarlyStopping(patience=2, restore_best_weights=True)
    history = model.fit(
        x, y, epochs=epochs, validation_split=0.25, callbacks=[inject, stopper], verbose=0, seed=0
    )
    assert isinstance(history, History) and model.history is history
    assert history.epoch == list(range(expected_epochs))
    for ours, best in zip(model.get_weights(), inject.weights[2], strict=True):
        np.testing.assert_array_equal(ours, best)
    assert not np.array_equal(inject.weights[2][0], inject.weights[-1][0])  # training did move the weights


def test_early_stopping_without_validation_data_is_a_clear_error(rng):
    x, y = _regression(rng)
    with pytest.raises(gn.ConfigError, match=r"'val_loss'.*available keys: (\w+, )*loss.*validation_split"):
        _model().fit(x, y, epochs=2, callbacks=[EarlyStopping()], verbose=0)


def test_model_checkpoint_saves_best_only_atomically(tmp_path, rng):
    x, y = _regression(rng)
    model = _model()
    inject = _InjectValLoss([0.5, 0.3, 0.4, 0.2, 0.6])
    checkpoint = ModelCheckpoint(tmp_path / "best-{epoch:02d}.glassnet", save_best_only=True)
    model.fit(x, y, epochs=5, validation_split=0.25, callbacks=[inject, checkpoint], verbose=0, seed=1)
    files = sorted(p.name for p in tmp_path.iterdir())
    assert files == ["best-01.glassnet", "best-02.glassnet", "best-04.glassnet"]  # no temporary files left
    assert checkpoint.best == 0.2
    loaded = gn.load_model(tmp_path / "best-04.glassnet")
    for ours, saved in zip(loaded.get_weights(), inject.weights[3], strict=True):
        np.testing.assert_array_equal(ours, saved)


def test_model_checkpoint_every_epoch_overwrites_one_file(tmp_path, rng):
    x, y = _regression(rng)
    model = _model()
    model.fit(x, y, epochs=3, callbacks=[ModelCheckpoint(tmp_path / "last.glassnet")], verbose=0, seed=2)
    assert [p.name for p in tmp_path.iterdir()] == ["last.glassnet"]
    np.testing.assert_array_equal(gn.load_model(tmp_path / "last.glassnet").predict(x), model.predict(x))


def test_model_checkpoint_errors_name_the_keys(tmp_path, rng):
    x, y = _regression(rng)
    with pytest.raises(gn.ConfigError, match=r"'val_loss'.*available keys: (\w+, )*loss"):
        _model().fit(
            x, y, epochs=1, verbose=0, callbacks=[ModelCheckpoint(tmp_path / "m", save_best_only=True)]
        )
    with pytest.raises(gn.ConfigError, match=r"val_acc.*available fields: epoch, (\w+, )*loss"):
        _model().fit(x, y, epochs=1, verbose=0, callbacks=[ModelCheckpoint(tmp_path / "m-{val_acc}")])


def test_csv_logger_writes_one_row_per_epoch(tmp_path, rng):
    x, y = _regression(rng)
    path = tmp_path / "log.csv"
    history = _model().fit(x, y, epochs=3, validation_split=0.25, callbacks=[CSVLogger(path)], verbose=0)
    with open(path, newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert [int(r["epoch"]) for r in rows] == [0, 1, 2]
    assert set(rows[0]) == {"epoch", *history.history}
    assert [float(r["val_loss"]) for r in rows] == history.history["val_loss"]
    _model().fit(x, y, epochs=2, validation_split=0.25, callbacks=[CSVLogger(path, append=True)], verbose=0)
    with open(path, newline="") as handle:
        lines = handle.read().splitlines()
    assert len(lines) == 1 + 3 + 2 and lines.count(lines[0]) == 1  # one header


class _RecordBatchStart(Callback):
    def __init__(self):
        super().__init__()
        self.starts = []

    def on_batch_begin(self, batch, logs=None):
        self.starts.append(self.model.get_weights())


@pytest.mark.filterwarnings("ignore:overflow:RuntimeWarning", "ignore:invalid value:RuntimeWarning")
def test_terminate_on_nan_stops_and_keeps_the_last_finite_weights(rng):
    x, y = _regression(rng, n=64)
    y = y * 1e3
    model = gn.Sequential([Input(shape=(3,)), Dense(8), Dense(1)])
    model.compile(optimizer=gn.optimizers.SGD(learning_rate=5.0), loss="mse")  # diverges within a few steps
    record, guard = _RecordBatchStart(), TerminateOnNaN(verbose=0)
    history = model.fit(x, y, epochs=5, batch_size=4, shuffle=False, callbacks=[record, guard], verbose=0)
    assert guard.stopped_epoch == 0 and guard.stopped_batch is not None
    assert len(history.epoch) == 1 and not np.isfinite(history.history["loss"][0])
    weights = model.get_weights()
    assert all(np.isfinite(w).all() for w in weights)
    start = record.starts[guard.stopped_batch]  # the weights the failing batch started from
    expected = start if all(np.isfinite(w).all() for w in start) else record.starts[guard.stopped_batch - 1]
    for ours, want in zip(weights, expected, strict=True):
        np.testing.assert_array_equal(ours, want)


def test_terminate_on_nan_leaves_healthy_training_alone(rng):
    x, y = _regression(rng)
    guard = TerminateOnNaN(verbose=0)
    history = _model().fit(x, y, epochs=3, callbacks=[guard], verbose=0)
    assert guard.stopped_batch is None and len(history.epoch) == 3


def test_callback_protocol_order_and_set_model(rng):
    calls = []

    class Recorder(Callback):
        def on_train_begin(self, logs=None):
            calls.append(("train_begin", self.model is model))

        def on_epoch_begin(self, epoch, logs=None):
            calls.append(("epoch_begin", epoch))

        def on_batch_end(self, batch, logs=None):
            calls.append(("batch_end", batch))

        def on_epoch_end(self, epoch, logs=None):
            calls.append(("epoch_end", epoch))

        def on_train_end(self, logs=None):
            calls.append(("train_end", None))

    x, y = _regression(rng, n=8)
    model = _model()
    model.fit(x, y, epochs=2, batch_size=4, callbacks=[Recorder()], verbose=0)
    assert calls == [
        ("train_begin", True),
        ("epoch_begin", 0),
        ("batch_end", 0),
        ("batch_end", 1),
        ("epoch_end", 0),
        ("epoch_begin", 1),
        ("batch_end", 0),
        ("batch_end", 1),
        ("epoch_end", 1),
        ("train_end", None),
    ]
