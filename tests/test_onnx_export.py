"""ONNX export: every exported model passes onnx.checker (full check) and onnxruntime equals predict."""

from __future__ import annotations

import numpy as np
import pytest

import glassnet as gn

onnxruntime = pytest.importorskip("onnxruntime", reason="the onnx extra: pip install 'glassnet[onnx]'")
L = gn.layers


def _run(model, xs, tmp_path):
    path = tmp_path / "model.onnx"
    gn.export_onnx(model, path)
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    feeds = {i.name: x for i, x in zip(session.get_inputs(), xs)}
    return session.run(None, feeds)[0]


def _check(model, xs, tmp_path):
    got = _run(model, xs, tmp_path)
    expected = model.predict(xs if len(xs) > 1 or getattr(model, "takes_input_list", False) else xs[0])
    assert got.dtype == np.float32 and got.shape == expected.shape
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-5)


def _trained_bn_stats(model, x):
    """Move BatchNormalization's moving statistics away from 0/1 so the export is really tested."""
    model.compile(optimizer="sgd", loss="mse")
    model.fit(x, np.zeros((len(x), *model.output_shape), np.float32), epochs=2, verbose=0, seed=0)


LAYER_CASES = {
    "dense_relu": lambda: [L.Dense(5, activation="relu")],
    "dense_no_bias_softmax": lambda: [L.Dense(4, use_bias=False, activation="softmax")],
    "sigmoid_tanh": lambda: [L.Dense(3, activation="sigmoid"), L.Dense(3, activation="tanh")],
    "activation_layers": lambda: [L.Dense(6), L.ReLU(), L.LeakyReLU(alpha=0.2), L.ELU(alpha=0.5), L.SELU(),
                                  L.Sigmoid(), L.Tanh(), L.Softmax(), L.Activation("linear")],
    "prelu": lambda: [L.Dense(4), L.PReLU()],
    "dropout": lambda: [L.Dense(4), L.Dropout(0.5)],
    "batch_norm": lambda: [L.Dense(4), L.BatchNormalization()],
    "layer_norm": lambda: [L.Dense(4), L.LayerNormalization()],
}


@pytest.mark.parametrize("case", sorted(LAYER_CASES))
def test_sequential_layer_round_trip(case, tmp_path, rng):
    model = gn.Sequential([L.Input(shape=(3,)), *LAYER_CASES[case]()])
    x = rng.normal(size=(7, 3)).astype(np.float32)
    if case == "batch_norm":
        _trained_bn_stats(model, x)
    _check(model, [x], tmp_path)


def test_dense_on_sequences_and_nested_models(tmp_path, rng):
    inner = gn.Sequential([L.Dense(4, activation="tanh"), L.LayerNormalization()], name="inner")
    model = gn.Sequential([L.Input(shape=(5, 3)), inner, L.Dense(2)])
    _check(model, [rng.normal(size=(2, 5, 3)).astype(np.float32)], tmp_path)


def test_graph_model_with_merge_layers(tmp_path, rng):
    a, b = L.Input(shape=(4,), name="a"), L.Input(shape=(3,), name="b")
    h = L.Dense(4, activation="relu")(a)
    shared = L.Dense(4)
    merged = L.Concatenate()([L.Add()([h, shared(L.Dense(4)(b))]), L.Multiply()([h, h, h])])
    model = gn.Model(inputs=[a, b], outputs=L.Dense(2, activation="softmax")(merged))
    xs = [rng.normal(size=(6, 4)).astype(np.float32), rng.normal(size=(6, 3)).astype(np.float32)]
    _check(model, xs, tmp_path)


def test_a_layer_without_converter_is_a_clear_error(tmp_path):
    class Custom(L.Layer):
        pass

    model = gn.Sequential([L.Input(shape=(3,)), Custom(name="mine")])
    with pytest.raises(gn.ConfigError, match="'mine' \\(Custom\\) has no ONNX converter"):
        gn.export_onnx(model, tmp_path / "m.onnx")
    assert not (tmp_path / "m.onnx").exists()


def test_unbuilt_model_is_refused(tmp_path):
    with pytest.raises(gn.ConfigError, match="not built"):
        gn.export_onnx(gn.Sequential([L.Dense(2)]), tmp_path / "m.onnx")


def test_glassnet_export_writes_a_run_model_that_onnxruntime_runs(tmp_path):
    from glassnet.app import runs
    from glassnet.app.cli import main

    result = runs.train(runs.setup({"data": {"name": "digits", "limit": 200}, "training": {"epochs": 2}}),
                        out=tmp_path, verbose=0)
    out = tmp_path / "digits.onnx"
    assert main(["export", str(result.run_dir), "--onnx", str(out)]) == 0
    session = onnxruntime.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    model = gn.load_model(result.run_dir / "model.glassnet")
    x = np.random.default_rng(0).random((5, 64)).astype(np.float32)
    np.testing.assert_allclose(session.run(None, {"input": x})[0], model.predict(x), rtol=1e-5, atol=1e-6)
    assert main(["export", str(result.run_dir), "--onnx", str(tmp_path)]) == 2
