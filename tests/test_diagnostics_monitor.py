"""GradientMonitor: its numbers against norms computed independently from .grad and the weights."""

from __future__ import annotations

import csv

import numpy as np
import pytest

import glassnet as gn
from glassnet.callbacks import Callback
from glassnet.diagnostics import GradientMonitor
from glassnet.layers import Dense, Input, ReLU


class Recorder(Callback):
    """Independent bookkeeping: per batch, each parameter's ||grad|| and ||w_after - w_before|| / ||w_before||
    (float64, from the arrays, not from the monitor's flat buffers).

    Same convention as the monitor for an all-zero w_before (a bias before its first step): ratio 0.
    """

    def __init__(self) -> None:
        super().__init__()
        self.rows: list[dict[str, tuple[float, float]]] = []
        self.epoch_of: list[int] = []
        self.epoch = 0

    def on_epoch_begin(self, epoch, logs=None):  # type: ignore[no-untyped-def]
        self.epoch = epoch

    def on_batch_begin(self, batch, logs=None):  # type: ignore[no-untyped-def]
        self.before = {p.name: p.value.astype(np.float64) for p in self.model.parameters()}

    def on_batch_end(self, batch, logs=None):  # type: ignore[no-untyped-def]
        row = {}
        for p in self.model.parameters():
            w0 = self.before[p.name]
            step = np.sqrt(np.sum((p.value.astype(np.float64) - w0) ** 2))
            w0_norm = np.sqrt(np.sum(w0**2))
            row[p.name] = (
                np.sqrt(np.sum(p.grad.astype(np.float64) ** 2)),
                step / w0_norm if w0_norm else 0.0,
            )
        self.rows.append(row)
        self.epoch_of.append(self.epoch)


def _model(seed: int = 0) -> gn.Sequential:
    with gn.backend.using_generator(np.random.default_rng(seed)):
        model = gn.Sequential(
            [Input(shape=(6,)), Dense(8), ReLU(), Dense(5, activation="relu"), Dense(3, activation="softmax")]
        )
    model.compile(optimizer=gn.optimizers.SGD(0.1, momentum=0.9), loss="sparse_categorical_crossentropy")
    return model


def _data(rng, n=70):  # type: ignore[no-untyped-def]
    return rng.normal(size=(n, 6)).astype(np.float32), rng.integers(0, 3, size=n)


def test_gradient_norms_and_update_ratios_match_an_independent_record(rng):
    x, y = _data(rng)
    model, recorder = _model(), Recorder()
    monitor = GradientMonitor(probe=x[:20])
    history = model.fit(x, y, epochs=3, batch_size=16, verbose=0, seed=0, callbacks=[recorder, monitor])
    record = history.diagnostics
    assert record is monitor.diagnostics
    assert record.layers == ["dense", "dense_1", "dense_2"]  # the ReLU layer has no parameters
    assert record.epochs() == [0, 1, 2]
    epochs = np.array(recorder.epoch_of)
    for row in record.gradients:
        rows = [r for r, e in zip(recorder.rows, epochs, strict=True) if e == row["epoch"]]
        if row["parameter"] == "*":
            continue
        grads = np.array([r[row["parameter"]][0] for r in rows])
        ratios = np.array([r[row["parameter"]][1] for r in rows])
        np.testing.assert_allclose(row["grad_norm"], grads.mean(), rtol=1e-5)
        np.testing.assert_allclose(row["update_ratio"], ratios.mean(), rtol=1e-4)
    assert len(record.gradients) == 3 * (6 + 3)  # per epoch: 6 parameters and 3 whole layers


def test_layer_norm_joins_the_layers_parameters(rng):
    x, y = _data(rng)
    recorder = Recorder()
    history = _model().fit(
        x, y, epochs=1, batch_size=70, verbose=0, seed=0, callbacks=[recorder, GradientMonitor(probe=x)]
    )
    (row,) = recorder.rows  # one batch: the mean is the value itself
    kernel, bias = row["dense_2/kernel"][0], row["dense_2/bias"][0]
    layer = [r for r in history.diagnostics.gradients if r["layer"] == "dense_2" and r["parameter"] == "*"][0]
    np.testing.assert_allclose(layer["grad_norm"], np.hypot(kernel, bias), rtol=1e-5)


def test_activation_statistics_match_a_forward_pass_written_out(rng):
    x, y = _data(rng)
    model = _model()
    history = model.fit(x, y, epochs=2, batch_size=16, verbose=0, seed=0, callbacks=[GradientMonitor(probe=x[:50])])
    rows = [r for r in history.diagnostics.activations if r["epoch"] == 1]
    assert [r["layer"] for r in rows] == [layer.name for layer in model.layers]  # ReLU layer included
    w = [p.value.astype(np.float64) for p in model.parameters()]
    z1 = x[:50].astype(np.float64) @ w[0] + w[1]
    a1 = np.maximum(z1, 0)
    a2 = np.maximum(a1 @ w[2] + w[3], 0)
    for row, a, name in zip(rows[:3], (z1, a1, a2), ("linear", "relu", "relu"), strict=True):
        assert row["activation"] == name
        np.testing.assert_allclose([row["mean"], row["std"]], [a.mean(), a.std()], rtol=1e-4, atol=1e-6)
        expected_dead = np.mean(np.all(a == 0, axis=0)) if name == "relu" else 0.0
        assert row["dead_fraction"] == pytest.approx(expected_dead)


def test_dead_and_saturated_fractions_on_constructed_outputs():
    from glassnet.diagnostics.monitor import activation_stats

    a = np.array([[0.0, 1.0, 0.0], [0.0, 0.0, 2.0]])
    assert activation_stats(a, "relu")["dead_fraction"] == pytest.approx(1 / 3)  # only unit 0 is always 0
    s = np.array([[0.001, 0.5, 0.995], [0.2, 0.999, 0.5]])
    assert activation_stats(s, "sigmoid")["saturated_fraction"] == pytest.approx(3 / 6)
    t = np.array([[-0.995, 0.0], [0.5, 0.999]])
    assert activation_stats(t, "tanh")["saturated_fraction"] == pytest.approx(2 / 4)
    assert activation_stats(t, "tanh")["dead_fraction"] == 0.0


def test_every_and_probe_from_the_first_layers_cache(rng):
    x, y = _data(rng, n=300)
    history = _model().fit(x, y, epochs=5, batch_size=32, verbose=0, seed=0, callbacks=[GradientMonitor(every=2)])
    record = history.diagnostics
    assert record.epochs() == [0, 2, 4]
    assert len(record.loss) == 5
    assert {r["epoch"] for r in record.activations} == {0, 2, 4}
    with pytest.raises(gn.ConfigError, match="every"):
        GradientMonitor(every=0)


def test_fit_diagnose_records_prints_and_keeps_the_seeded_run_identical(rng, capsys):
    x, y = _data(rng)
    plain = _model()
    plain.fit(x, y, epochs=2, batch_size=16, verbose=0, seed=3)
    diagnosed = _model()
    history = diagnosed.fit(x, y, epochs=2, batch_size=16, verbose=0, seed=3, diagnose=True)
    assert "Diagnosis:" in capsys.readouterr().out
    assert history.diagnostics is not None and history.diagnostics.epochs() == [0, 1]
    for a, b in zip(plain.get_weights(), diagnosed.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)


def test_rows_and_csv(rng, tmp_path):
    x, y = _data(rng)
    model = _model()
    history = model.fit(x, y, epochs=1, batch_size=35, verbose=0, seed=0, callbacks=[GradientMonitor(probe=x)])
    path = tmp_path / "diagnostics.csv"
    history.diagnostics.write_csv(path)
    with open(path) as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 9 + 4
    assert float(rows[0]["grad_norm"]) > 0
    assert {r["layer"] for r in rows if r["activation"]} == {layer.name for layer in model.layers}


def test_unpacked_models_give_the_same_record(rng):
    x, y = _data(rng)
    packed, unpacked = _model(), _model()
    unpacked._pack = None  # the monitor then snapshots each parameter on its own
    records = [
        m.fit(x, y, epochs=2, batch_size=16, verbose=0, seed=0, callbacks=[GradientMonitor(probe=x)]).diagnostics
        for m in (packed, unpacked)
    ]
    for a, b in zip(records[0].gradients, records[1].gradients, strict=True):
        assert a.keys() == b.keys()
        np.testing.assert_allclose([a["grad_norm"], a["update_ratio"]], [b["grad_norm"], b["update_ratio"]], rtol=1e-6)


def test_a_model_without_trainable_parameters_records_activations_only(rng):
    x, y = _data(rng)
    model = _model()
    for layer in model.layers:
        layer.trainable = False
    history = model.fit(x, y, epochs=2, batch_size=16, verbose=0, seed=0, callbacks=[GradientMonitor(probe=x)])
    assert history.diagnostics.gradients == [] and len(history.diagnostics.activations) == 2 * 4
    assert gn.diagnostics.diagnose(history) == []


def test_fit_diagnose_keeps_a_seeded_graph_run_with_dropout_identical(rng, capsys):
    """The same for a two-input Functional graph with Dropout: the probe pass runs in inference mode
    and draws no random numbers, so the dropout masks of the seeded run are unchanged."""

    def graph() -> gn.Model:
        with gn.backend.using_generator(np.random.default_rng(0)):
            a, b = Input(shape=(6,), name="a"), Input(shape=(2,), name="b")
            h = gn.layers.Dropout(0.4)(Dense(8, activation="relu")(a))
            joined = gn.layers.Concatenate()([h, Dense(3, activation="tanh")(b)])
            model = gn.Model(inputs=[a, b], outputs=Dense(3, activation="softmax")(gn.layers.Dropout(0.2)(joined)))
        model.compile(optimizer=gn.optimizers.Adam(1e-2), loss="sparse_categorical_crossentropy")
        return model

    x, y = _data(rng)
    xs = [x, rng.normal(size=(len(x), 2)).astype(np.float32)]
    plain, diagnosed, monitored = graph(), graph(), graph()
    plain.fit(xs, y, epochs=3, batch_size=16, verbose=0, seed=3)
    history = diagnosed.fit(xs, y, epochs=3, batch_size=16, verbose=0, seed=3, diagnose=True)
    monitored.fit(xs, y, epochs=3, batch_size=16, verbose=0, seed=3, callbacks=[GradientMonitor()])
    assert "Diagnosis:" in capsys.readouterr().out and history.diagnostics.epochs() == [0, 1, 2]
    for a, b, c in zip(plain.get_weights(), diagnosed.get_weights(), monitored.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)
        np.testing.assert_array_equal(a, c)
