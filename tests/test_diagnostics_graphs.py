"""The monitor and the diagnosis on graph models: branches, several inputs, nested models, N-D outputs."""

from __future__ import annotations

import copy

import numpy as np
import pytest

import glassnet as gn
from glassnet.callbacks import Callback
from glassnet.diagnostics import FitDiagnosis, GradientMonitor, diagnose
from glassnet.layers import Concatenate, Dense, Dropout, Input, ReLU
from glassnet.layers.recording import recording_forward


class GradRecorder(Callback):
    """Independent bookkeeping: per batch, each parameter's ||grad|| in float64, by parameter name."""

    def __init__(self) -> None:
        super().__init__()
        self.norms: dict[str, list[float]] = {}

    def on_batch_end(self, batch, logs=None):  # type: ignore[no-untyped-def]
        for p in self.model.parameters(trainable_only=True):
            self.norms.setdefault(p.name, []).append(float(np.sqrt(np.sum(p.grad.astype(np.float64) ** 2))))


def _two_branch(seed: int = 0) -> gn.Model:
    """a (5 features) -> dense -> relu ;  b (3) -> dense_b ;  concat -> head (3, softmax)."""
    with gn.backend.using_generator(np.random.default_rng(seed)):
        a, b = Input(shape=(5,), name="a"), Input(shape=(3,), name="b")
        left = ReLU(name="relu")(Dense(6, name="dense_a")(a))
        right = Dense(4, activation="tanh", name="dense_b")(b)
        out = Dense(3, activation="softmax", name="head")(Concatenate(name="concat")([left, right]))
        model = gn.Model(inputs=[a, b], outputs=out)
    model.compile(optimizer=gn.optimizers.SGD(0.1, momentum=0.9), loss="sparse_categorical_crossentropy")
    return model


def _two_inputs(rng, n=64):  # type: ignore[no-untyped-def]
    xa, xb = rng.normal(size=(n, 5)).astype(np.float32), rng.normal(size=(n, 3)).astype(np.float32)
    return [xa, xb], rng.integers(0, 3, size=n)


def test_two_branch_two_input_graph_records_every_layer_by_its_path(rng):
    x, y = _two_inputs(rng)
    model, recorder = _two_branch(), GradRecorder()
    history = model.fit(x, y, epochs=2, batch_size=16, verbose=0, seed=0,
                        callbacks=[recorder, GradientMonitor(probe=[x[0][:40], x[1][:40]])])
    record = history.diagnostics
    assert record.layers == ["dense_a", "dense_b", "head"]  # topological order, input side first
    assert record.feeds == {"dense_a": ["relu"], "relu": ["concat"], "dense_b": ["concat"], "concat": ["head"],
                            "head": []}
    assert record.outputs == ["head"]
    for row in record.gradients:
        if row["parameter"] != "*":
            expected = np.mean(recorder.norms[row["parameter"]][4 * row["epoch"] : 4 * row["epoch"] + 4])
            np.testing.assert_allclose(row["grad_norm"], expected, rtol=1e-5)
    last = {r["layer"]: r for r in record.activations if r["epoch"] == 1}
    assert list(last) == ["dense_a", "relu", "dense_b", "concat", "head"]
    w = {p.name: p.value.astype(np.float64) for p in model.parameters()}
    relu = np.maximum(x[0][:40] @ w["dense_a/kernel"] + w["dense_a/bias"], 0)
    tanh = np.tanh(x[1][:40] @ w["dense_b/kernel"] + w["dense_b/bias"])
    joined = np.concatenate([relu, tanh], axis=1)
    for name, a in (("relu", relu), ("dense_b", tanh), ("concat", joined)):
        np.testing.assert_allclose([last[name]["mean"], last[name]["std"]], [a.mean(), a.std()], rtol=1e-4, atol=1e-6)
    assert last["relu"]["dead_fraction"] == pytest.approx(np.mean(np.all(relu == 0, axis=0)))
    assert last["dense_b"]["activation"] == "tanh"
    assert last["dense_b"]["saturated_fraction"] == pytest.approx(np.mean(np.abs(tanh) > 0.99))


def _nested(seed: int = 0) -> gn.Model:
    """x -> Sequential "inner" [dense, Sequential "core" [dense]] -> Dropout -> Sequential "top" [dense]."""
    with gn.backend.using_generator(np.random.default_rng(seed)):
        core = gn.Sequential([Dense(5, activation="relu")], name="core")
        inner = gn.Sequential([Dense(6, activation="relu"), core], name="inner")
        top = gn.Sequential([Dense(2, activation="softmax")], name="top")
        x = Input(shape=(4,))
        model = gn.Model(inputs=x, outputs=top(Dropout(0.3)(inner(x))))
    model.compile(optimizer=gn.optimizers.SGD(0.1), loss="sparse_categorical_crossentropy")
    return model


def test_nested_models_are_expanded_with_path_names(rng):
    x, y = rng.normal(size=(48, 4)).astype(np.float32), rng.integers(0, 2, size=48)
    model = _nested()
    record = model.fit(x, y, epochs=1, batch_size=16, verbose=0, seed=0, callbacks=[GradientMonitor()]).diagnostics
    assert record.layers == ["inner/dense", "inner/core/dense", "top/dense"]
    assert {r["parameter"] for r in record.gradients} == {
        "*", "inner/dense/kernel", "inner/dense/bias", "inner/core/dense/kernel", "inner/core/dense/bias",
        "top/dense/kernel", "top/dense/bias"}
    assert [r["layer"] for r in record.activations] == ["inner/dense", "inner/core/dense", "dropout", "top/dense"]
    assert record.outputs == ["top/dense"]
    assert record.feeds["inner/core/dense"] == ["dropout"] and record.feeds["dropout"] == ["top/dense"]
    # the probe (no probe given) is the first 48 training inputs the model received, in batch order:
    # statistics equal a forward pass written out on some 48 rows of x, i.e. on all of them
    w = [p.value.astype(np.float64) for p in model.parameters()]
    h = np.maximum(np.maximum(x.astype(np.float64) @ w[0] + w[1], 0) @ w[2] + w[3], 0)
    row = record.activations[1]
    np.testing.assert_allclose([row["mean"], row["std"]], [h.mean(), h.std()], rtol=1e-4)


def test_frozen_nested_model_has_no_gradient_rows(rng):
    x, y = rng.normal(size=(32, 4)).astype(np.float32), rng.integers(0, 2, size=32)
    model = _nested()
    model.layers[0].trainable = False  # "inner", with "core" inside it
    record = model.fit(x, y, epochs=1, batch_size=16, verbose=0, seed=0, callbacks=[GradientMonitor()]).diagnostics
    assert record.layers == ["top/dense"]
    assert len(record.activations) == 4


def test_nd_outputs_count_units_on_the_last_axis(rng):
    """Dense on (batch, T, features): channel 0 of the ReLU layer is dead, channel 1 of the sigmoid layer
    saturated, both set by hand; position 0 of every sample is all zeros (a unit is alive if it fires at
    any position, so flattening (T, C) into units would count dead (t, c) pairs there)."""
    steps, n = 5, 64
    with gn.backend.using_generator(np.random.default_rng(0)):
        model = gn.Sequential([Input(shape=(steps, 3)), Dense(4, activation="relu"), Dense(3, activation="sigmoid"),
                               Dense(2)])
    relu, sigmoid = model.layers[0], model.layers[1]
    relu.kernel.value[:, 0] = 0.0
    relu.bias.value[:] = [-5.0, 0.0, 0.0, 0.0]
    sigmoid.kernel.value[:, 1] = 0.0
    sigmoid.bias.value[:] = [0.0, 12.0, 0.0]
    model.compile(optimizer=gn.optimizers.SGD(1e-3), loss="mse")
    x = rng.normal(size=(n, steps, 3)).astype(np.float32)
    x[:, 0, :] = 0.0
    y = rng.normal(size=(n, steps, 2)).astype(np.float32)
    history = model.fit(x, y, epochs=1, batch_size=16, verbose=0, seed=0, callbacks=[GradientMonitor(probe=x)])
    record = history.diagnostics
    rows = {r["layer"]: r for r in record.activations}
    w = [p.value.astype(np.float64) for p in model.parameters()]
    a1 = np.maximum(x.astype(np.float64) @ w[0] + w[1], 0)
    a2 = 1 / (1 + np.exp(-(a1 @ w[2] + w[3])))
    assert np.all(a1[..., 0] == 0) and np.all(a2[..., 1] > 0.99)  # the planted channels stayed planted
    assert rows["dense"]["dead_fraction"] == pytest.approx(np.mean(np.all(a1.reshape(-1, 4) == 0, axis=0)))
    assert rows["dense"]["dead_fraction"] == pytest.approx(1 / 4)
    assert rows["dense_1"]["saturated_fraction"] == pytest.approx(np.mean(np.minimum(a2, 1 - a2) < 0.01))
    assert rows["dense_1"]["saturated_fraction"] >= 1 / 3
    assert rows["dense_1"]["dead_fraction"] == 0.0 and rows["dense"]["saturated_fraction"] == 0.0
    np.testing.assert_allclose([rows["dense"]["mean"], rows["dense"]["std"]], [a1.mean(), a1.std()], rtol=1e-4)


def test_fit_diagnose_on_list_inputs_draws_the_same_rows_from_each_input(rng, capsys):
    x, y = _two_inputs(rng, n=300)
    x[0][:, 0] = x[1][:, 0] = np.arange(300)  # each row carries its index in both inputs
    history = _two_branch().fit(x, y, epochs=2, batch_size=32, verbose=0, seed=5, diagnose=True)
    assert "Diagnosis:" in capsys.readouterr().out
    record = history.diagnostics
    assert record.epochs() == [0, 1] and record.layers == ["dense_a", "dense_b", "head"]
    assert {r["layer"] for r in record.activations} == {"dense_a", "relu", "dense_b", "concat", "head"}
    probe = FitDiagnosis.for_fit(x, seed=5).probe
    assert isinstance(probe, list) and len(probe[0]) == len(probe[1]) == 256
    np.testing.assert_array_equal(probe[0][:, 0], probe[1][:, 0])
    assert len(set(probe[0][:, 0])) == 256


def _vanishing_graph(deep_activation: str, seed: int = 0) -> gn.Model:
    """A shallow ReLU branch on input "a" and, on the second input "b", eight layers of ``deep_activation``."""
    with gn.backend.using_generator(np.random.default_rng(seed)):
        a, b = Input(shape=(8,), name="a"), Input(shape=(8,), name="b")
        left = Dense(16, activation="relu", kernel_initializer="he_normal", name="shallow")(a)
        right = b
        for k in range(8):
            init = "he_normal" if deep_activation == "relu" else "glorot_uniform"
            right = Dense(16, activation=deep_activation, kernel_initializer=init, name=f"deep_{k}")(right)
        out = Dense(3, activation="softmax", name="head")(Concatenate()([left, right]))
        model = gn.Model(inputs=[a, b], outputs=out)
    model.compile(optimizer=gn.optimizers.SGD(0.05, momentum=0.9), loss="sparse_categorical_crossentropy")
    return model


def _graph_data(n: int = 256):  # type: ignore[no-untyped-def]
    rng = np.random.default_rng(7)
    xa, xb = rng.normal(size=(n, 8)).astype(np.float32), rng.normal(size=(n, 8)).astype(np.float32)
    y = (xa[:, 0] + xb[:, 0] > 0).astype(int) + (xa[:, 1] > 1).astype(int)
    return [xa, xb], y


def test_diagnose_finds_vanishing_gradients_in_the_deep_branch_of_a_graph():
    x, y = _graph_data()
    history = _vanishing_graph("sigmoid").fit(x, y, epochs=3, batch_size=32, verbose=0, seed=0, diagnose=False,
                                              callbacks=[GradientMonitor(probe=[x[0][:128], x[1][:128]])])
    findings = diagnose(history)
    assert [f.name for f in findings] == ["vanishing gradients"]
    assert findings[0].layer == "deep_0" and "'head'" in findings[0].evidence
    # read as a chain (the record's first and last trainable layers), the shallow branch hides it
    chain = copy.deepcopy(history.diagnostics)
    chain.feeds, chain.outputs = {}, []
    assert chain.layers[0] == "shallow" and "vanishing gradients" not in [f.name for f in diagnose(chain)]
    healthy = _vanishing_graph("relu").fit(x, y, epochs=3, batch_size=32, verbose=0, seed=0,
                                           callbacks=[GradientMonitor(probe=[x[0][:128], x[1][:128]])])
    assert diagnose(healthy) == []


def test_diagnosis_plots_and_report_section_for_a_graph_model(rng, tmp_path):
    from glassnet.app.diagnosis_plots import diagnosis_html

    x, y = _two_inputs(rng)
    record = _nested().fit(x[0][:, :4], y % 2, epochs=2, batch_size=16, verbose=0, seed=0,
                           callbacks=[GradientMonitor()]).diagnostics
    page = diagnosis_html(record, plots_dir=tmp_path / "plots")
    assert page.count("<img") == 2 and (tmp_path / "plots" / "gradient_flow.png").stat().st_size > 5000
    record.write_csv(tmp_path / "diagnostics.csv")
    assert "inner/core/dense" in (tmp_path / "diagnostics.csv").read_text()


def test_recording_forward_leaves_no_trace_and_overlaps():
    layer = Dense(2)
    layer.build((3,))
    seen: list[str] = []
    first = lambda lay, x, y: seen.append("first")  # noqa: E731
    second = lambda lay, x, y: seen.append("second")  # noqa: E731
    outer, inner = recording_forward([layer], first), recording_forward([layer], second)
    outer.__enter__()
    inner.__enter__()
    layer.forward(np.ones((1, 3), dtype=np.float32))
    outer.__exit__(None, None, None)  # closed before the inner one: two monitors detach in any order
    layer.forward(np.ones((1, 3), dtype=np.float32))
    inner.__exit__(None, None, None)
    assert seen == ["first", "second", "second"] and "forward" not in vars(layer)
    layer.forward(np.ones((1, 3), dtype=np.float32))
    assert len(seen) == 3

    def failing(lay, x, y):  # type: ignore[no-untyped-def]
        raise RuntimeError("record failed")

    with pytest.raises(RuntimeError), recording_forward([layer], failing):
        assert "forward" in vars(layer)
        layer.forward(np.ones((1, 3), dtype=np.float32))
    assert "forward" not in vars(layer) and "_forward_records" not in vars(layer)


class _TwoHeads(gn.Model):
    """A hand-written model whose forward returns a list (as a graph with several outputs does)."""

    def __init__(self) -> None:
        super().__init__(name="two_heads")
        self.layers = [Dense(4, activation="relu", name="trunk"), Dense(2, name="left"), Dense(3, name="right")]
        for layer in self.layers:
            layer.build((3,) if layer.name == "trunk" else (4,))

    def forward(self, x, training=False):  # type: ignore[no-untyped-def]
        h = self.layers[0].forward(x, training)
        return [self.layers[1].forward(h, training), self.layers[2].forward(h, training)]


def test_probe_pass_on_a_model_with_several_outputs_and_a_shared_layer(rng):
    from glassnet.diagnostics.probe import run_probe

    x = rng.normal(size=(40, 3)).astype(np.float32)
    seen = run_probe(_TwoHeads(), x)
    assert seen.feeds == {"trunk": ["left", "right"], "left": [], "right": []}
    assert seen.model_outputs == ["left", "right"] and seen.outputs["right"].shape == (40, 3)
    with gn.backend.using_generator(np.random.default_rng(0)):
        a, b = Input(shape=(3,), name="a"), Input(shape=(3,), name="b")
        shared = Dense(4, activation="relu", name="shared")
        model = gn.Model(inputs=[a, b], outputs=Dense(1, name="out")(Concatenate(name="cat")([shared(a), shared(b)])))
    xs = [x, rng.normal(size=(40, 3)).astype(np.float32)]
    seen = run_probe(model, xs)
    assert seen.feeds["shared"] == ["cat"] and list(seen.outputs) == ["shared", "cat", "out"]
    both = np.concatenate([np.maximum(xi @ shared.kernel.value + shared.bias.value, 0) for xi in xs])
    assert seen.outputs["shared"].shape == (80, 4)  # both calls' rows
    np.testing.assert_allclose(np.sort(seen.outputs["shared"], axis=0), np.sort(both, axis=0), rtol=1e-6)


def test_graph_rules_on_a_constructed_record_compare_each_branch_with_each_head():
    from glassnet.diagnostics import Diagnostics

    record = Diagnostics(layers=["a1", "b1", "b2", "h1", "h2"], loss=[1.0, 0.5],
                         feeds={"a1": ["cat"], "b1": ["b2"], "b2": ["cat"], "cat": ["h1", "h2"], "h1": [], "h2": []},
                         outputs=["h1", "h2"])
    norms = {"a1": 1.0, "b1": 1.0, "b2": 1.0, "h1": 1.0, "h2": 2e3}  # b1 and a1 vanish against head h2
    for epoch in range(2):
        for layer, g in norms.items():
            record.gradients.append({"epoch": epoch, "layer": layer, "parameter": "*", "grad_norm": g,
                                     "update_ratio": 1e-3})
    findings = diagnose(record)
    assert [(f.name, f.layer) for f in findings] == [("vanishing gradients", "a1"), ("vanishing gradients", "b1")]
    assert all("'h2'" in f.evidence for f in findings)
    record.activations = [{"epoch": 1, "layer": name, "activation": "relu", "mean": 0.0, "std": 0.0,
                           "dead_fraction": 1.0, "saturated_fraction": 0.0} for name in ("b2", "h1", "h2")]
    assert [f.layer for f in diagnose(record) if f.name == "dying ReLU"] == ["b2"]  # both heads left out
