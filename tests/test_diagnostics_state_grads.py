"""Gradient through time: the monitor's ||dL/dh_t|| against torch autograd, its cost switch, and the
"vanishing gradients through time" finding."""

from __future__ import annotations

import numpy as np
import pytest

import glassnet as gn
from glassnet.diagnostics import GradientMonitor, diagnose
from glassnet.diagnostics.state_grads import recurrent_layers
from glassnet.diagnostics.through_time import THROUGH_TIME, vanishing_through_time
from glassnet.layers import LSTM, Bidirectional, Dense, Input, SimpleRNN


def _torch_norms(torch, model, x, y):  # type: ignore[no-untyped-def]
    """||dL/dh_t|| (batch mean) of SimpleRNN -> Dense(softmax) with mean cross-entropy, by h_t.retain_grad()."""
    rnn, dense = model.layers
    cell = torch.nn.RNNCell(x.shape[2], rnn.units)
    with torch.no_grad():
        cell.weight_ih.copy_(torch.tensor(rnn.kernel.value.T))
        cell.weight_hh.copy_(torch.tensor(rnn.recurrent_kernel.value.T))
        cell.bias_ih.copy_(torch.tensor(rnn.bias.value))
        cell.bias_hh.zero_()
    h, hs = torch.zeros(len(x), rnn.units, dtype=torch.float64), []
    for t in range(x.shape[1]):
        h = cell(torch.tensor(x[:, t]), h)
        h.retain_grad()
        hs.append(h)
    logits = h @ torch.tensor(dense.kernel.value) + torch.tensor(dense.bias.value)
    torch.nn.functional.cross_entropy(logits, torch.tensor(y)).backward()
    return np.array([np.linalg.norm(hh.grad.numpy(), axis=1).mean() for hh in hs])


def test_monitored_norms_match_torch_autograd_averaged_over_batches(float64, torch, rng):
    steps, features, units = 7, 3, 4
    x = rng.normal(size=(12, steps, features))
    y = rng.integers(0, 2, size=12)
    with gn.backend.using_generator(np.random.default_rng(0)):
        model = gn.Sequential([Input(shape=(steps, features)), SimpleRNN(units), Dense(2, activation="softmax")])
    model.compile(optimizer=gn.optimizers.SGD(0.0), loss="sparse_categorical_crossentropy")  # weights stay put
    monitor = GradientMonitor()
    model.fit(x, y, epochs=1, batch_size=6, shuffle=False, verbose=0, callbacks=[monitor])
    (row,) = monitor.diagnostics.state_grads
    assert row["layer"] == model.layers[0].name and row["batches"] == 2 and row["epoch"] == 0
    expected = (_torch_norms(torch, model, x[:6], y[:6]) + _torch_norms(torch, model, x[6:], y[6:])) / 2
    np.testing.assert_allclose(row["norms"], expected, rtol=1e-10)
    assert model.layers[0].record_state_grads is False  # switched off when training ends


def test_unmonitored_epochs_record_nothing(rng):
    x = rng.normal(size=(20, 5, 2)).astype(np.float32)
    y = rng.integers(0, 2, size=20)
    model = gn.Sequential([Input(shape=(5, 2)), LSTM(3), Dense(2, activation="softmax")])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    flags = []

    class Spy(gn.callbacks.Callback):
        def on_batch_end(self, batch, logs=None):  # type: ignore[no-untyped-def]
            flags.append((model.layers[0].record_state_grads, model.layers[0].state_grad_norms is None))

    monitor = GradientMonitor(every=2)
    model.fit(x, y, epochs=2, batch_size=10, verbose=0, callbacks=[monitor, Spy()])
    assert [r["epoch"] for r in monitor.diagnostics.state_grads] == [0]
    assert flags[2:] == [(False, True), (False, True)]  # epoch 2: nothing kept, nothing computed
    assert flags[0][0] is True


def test_bidirectional_gives_one_row_per_direction(rng):
    x = rng.normal(size=(8, 6, 2)).astype(np.float32)
    model = gn.Sequential([Input(shape=(6, 2)), Bidirectional(LSTM(3)), Dense(2, activation="softmax")])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    monitor = GradientMonitor()
    model.fit(x, rng.integers(0, 2, size=8), epochs=1, batch_size=8, verbose=0, callbacks=[monitor])
    name = model.layers[0].name
    assert [path for path, _ in recurrent_layers([(name, model.layers[0])])] == [f"{name}/forward", f"{name}/backward"]
    rows = {r["layer"]: r["norms"] for r in monitor.diagnostics.state_grads}
    assert set(rows) == {f"{name}/forward", f"{name}/backward"}
    assert all(len(v) == 6 and min(v) > 0 for v in rows.values())


def _memory_task(rng, steps):  # type: ignore[no-untyped-def]
    """The first of ``steps`` one-hot tokens decides the label (the long-memory task, small)."""
    tokens = rng.integers(2, 6, size=(64, steps))
    labels = rng.integers(0, 2, size=64)
    tokens[:, 0] = labels
    return np.eye(6, dtype=np.float32)[tokens], labels


def _fit_monitored(cell, steps, rng):  # type: ignore[no-untyped-def]
    x, y = _memory_task(rng, steps)
    model = gn.Sequential([Input(shape=(steps, 6)), cell, Dense(2, activation="softmax")])
    if isinstance(cell, LSTM):  # a forget gate held open: the cell state carries the first token's gradient
        cell.bias.value[cell.units : 2 * cell.units] = 6.0
    model.compile(optimizer=gn.optimizers.Adam(1e-3), loss="sparse_categorical_crossentropy")
    return model.fit(x, y, epochs=2, batch_size=32, verbose=0, seed=0, diagnose=True)


def test_diagnosis_fires_for_a_simple_rnn_with_a_tiny_recurrent_kernel(rng):
    cell = SimpleRNN(8, recurrent_initializer=gn.initializers.Orthogonal(gain=0.1, seed=0))
    history = _fit_monitored(cell, 40, rng)
    findings = [f for f in diagnose(history) if f.name == THROUGH_TIME]
    assert [f.layer for f in findings] == [cell.name]
    assert "||dL/dh_1|| / ||dL/dh_T||" in findings[0].evidence
    assert any("LSTM or GRU" in r for r in findings[0].remedies)
    assert any("clip" in r for r in findings[0].remedies) and any("shorter" in r for r in findings[0].remedies)


def test_diagnosis_stays_quiet_for_an_lstm_that_carries_the_signal(rng):
    cell = LSTM(8)
    history = _fit_monitored(cell, 40, rng)
    norms = history.diagnostics.state_grads[-1]["norms"]
    assert norms[0] / norms[-1] > 1e-2
    assert not [f for f in diagnose(history) if f.name == THROUGH_TIME]


@pytest.mark.parametrize(
    ("norms", "fires"),
    [
        ([1e-9] + [1.0] * 9, True),
        ([1e-3] + [1.0] * 9, False),
        ([1e-9, 1.0], False),
        ([float("nan")] + [1.0] * 9, False),
    ],
)
def test_rule_reads_the_last_epoch_and_skips_short_or_non_finite_curves(norms, fires):
    record = gn.diagnostics.Diagnostics(
        state_grads=[
            {"epoch": 1, "layer": "rnn", "norms": norms, "batches": 1},
            {"epoch": 0, "layer": "rnn", "norms": [1.0] * 10, "batches": 1},  # earlier epoch, later row: not read
        ]
    )
    assert bool(vanishing_through_time(record)) is fires
