"""LambdaCallback and JSONLinesLogger (issue 11, item 6)."""

import json

import numpy as np
import pytest

import glassnet as gn


@pytest.fixture
def model():
    model = gn.Sequential([gn.layers.Input(shape=(2,)), gn.layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    return model


def test_lambda_callback_calls_each_given_hook_with_keras_arguments(model, rng):
    calls = []
    callback = gn.callbacks.LambdaCallback(
        on_train_begin=lambda logs: calls.append(("train_begin",)),
        on_epoch_end=lambda epoch, logs: calls.append(("epoch_end", epoch, sorted(logs))),
        on_batch_end=lambda batch, logs: calls.append(("batch_end", batch)),
        on_train_end=lambda logs: calls.append(("train_end",)),
    )
    model.fit(rng.normal(size=(8, 2)), rng.normal(size=(8, 1)), epochs=2, batch_size=4, callbacks=[callback],
              verbose=0)
    assert calls == [("train_begin",), ("batch_end", 0), ("batch_end", 1), ("epoch_end", 0, ["learning_rate", "loss"]),
                     ("batch_end", 0), ("batch_end", 1), ("epoch_end", 1, ["learning_rate", "loss"]), ("train_end",)]
    assert not gn.callbacks.LambdaCallback(on_epoch_end=print).wants_batch_hooks
    with pytest.raises(gn.ConfigError, match="on_epoch_end must be a function, got int"):
        gn.callbacks.LambdaCallback(on_epoch_end=3)


def test_json_lines_logger_writes_one_strict_object_per_epoch(model, rng, tmp_path):
    path = tmp_path / "log.jsonl"
    nan_once = gn.callbacks.LambdaCallback(on_epoch_end=lambda epoch, logs: logs.update(odd=float("nan")))
    history = model.fit(rng.normal(size=(8, 2)), rng.normal(size=(8, 1)), epochs=3, validation_split=0.25,
                        callbacks=[nan_once, gn.callbacks.JSONLinesLogger(path)], verbose=0)
    rows = [json.loads(line) for line in path.read_text().splitlines()]
    assert [r["epoch"] for r in rows] == [0, 1, 2]
    assert [r["loss"] for r in rows] == history.history["loss"]  # exact: floats round-trip through JSON
    assert all(r["odd"] is None and r["time_s"] >= 0 for r in rows)
    model.fit(rng.normal(size=(8, 2)), rng.normal(size=(8, 1)), epochs=1,
              callbacks=[gn.callbacks.JSONLinesLogger(path, append=True)], verbose=0)
    assert len(path.read_text().splitlines()) == 4
    assert np.isfinite(rows[0]["val_loss"])
