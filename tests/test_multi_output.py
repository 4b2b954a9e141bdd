"""Graph models with several outputs: compile forms, fit/evaluate/predict, history names, save/load,
summary, a whole-graph gradient check, and PyTorch parity of a two-head model."""

from __future__ import annotations

import numpy as np
import pytest

import glassnet as gn
from glassnet.diagnostics import gradient_check
from glassnet.errors import ConfigError, ShapeError

L = gn.layers


def two_heads(seed: int = 0) -> gn.Model:
    """x (4) -> tanh trunk (6) -> "probs": softmax over 3 classes, and "value": one linear output."""
    gn.set_seed(seed)
    a = L.Input(shape=(4,), name="x")
    h = L.Dense(6, activation="tanh", name="trunk")(a)
    return gn.Model(inputs=a, outputs=[L.Dense(3, activation="softmax", name="probs")(h), L.Dense(1, name="value")(h)])


def _data(rng: np.random.Generator, n: int = 40) -> tuple[np.ndarray, list[np.ndarray]]:
    x = rng.normal(size=(n, 4)).astype(np.float32)
    labels = (x[:, 0] > 0).astype(int) + (x[:, 1] > 0)
    return x, [labels, (x[:, :2].sum(axis=1, keepdims=True)).astype(np.float32)]


@pytest.mark.parametrize("form", ["list", "dict"])
def test_fit_evaluate_predict_and_the_keras_names_of_the_logs(rng, form):
    model = two_heads()
    x, (labels, values) = _data(rng)
    if form == "list":
        model.compile(optimizer=gn.optimizers.Adam(0.02), loss=["sparse_categorical_crossentropy", "mse"],
                      loss_weights=[1.0, 0.5], metrics=[["accuracy"], ["mae"]])
        y: object = [labels, values]
    else:
        model.compile(optimizer=gn.optimizers.Adam(0.02),
                      loss={"probs": "sparse_categorical_crossentropy", "value": "mse"},
                      loss_weights={"value": 0.5}, metrics={"probs": "accuracy", "value": ["mae"]})
        y = {"value": values, "probs": labels}
    assert model.output_names == ["probs", "value"]
    val_y = {"probs": labels[:10], "value": values[:10]} if form == "dict" else [labels[:10], values[:10]]
    history = model.fit(x, y, epochs=25, batch_size=8, verbose=0, seed=0, validation_data=(x[:10], val_y)).history
    keys = {"loss", "probs_loss", "value_loss", "probs_accuracy", "value_mae"}
    assert keys | {f"val_{k}" for k in keys} <= set(history)
    assert history["loss"][-1] < 0.5 * history["loss"][0]
    logs = model.evaluate(x, [labels, values])
    np.testing.assert_allclose(logs["loss"], logs["probs_loss"] + 0.5 * logs["value_loss"], rtol=1e-6)
    probs, value = model.predict(x, batch_size=16)  # batched: copied out of the reused buffers
    assert probs.shape == (40, 3) and value.shape == (40, 1) and probs.dtype == np.float32
    np.testing.assert_allclose(logs["probs_accuracy"], np.mean(probs.argmax(axis=1) == labels))
    np.testing.assert_allclose(logs["value_mae"], np.mean(np.abs(value - values)), rtol=1e-5)
    np.testing.assert_allclose(value, model.predict(x)[1], rtol=1e-6)


def test_save_load_and_summary_of_a_model_with_two_outputs(rng, tmp_path, capsys):
    model = two_heads()
    x, y = _data(rng)
    model.compile(optimizer="adam", loss={"probs": "sparse_categorical_crossentropy", "value": "huber"},
                  loss_weights=[2.0, 1.0], metrics=[["accuracy"], []])
    model.fit(x, y, epochs=2, verbose=0, seed=0)
    model.save(tmp_path / "two.glassnet")
    loaded = gn.load_model(tmp_path / "two.glassnet")
    assert loaded.output_names == ["probs", "value"]
    for got, want in zip(loaded.predict(x), model.predict(x)):
        np.testing.assert_array_equal(got, want)
    assert loaded.evaluate(x, y) == pytest.approx(model.evaluate(x, y))
    assert [type(loss).__name__ for loss in loaded.loss] == ["SparseCategoricalCrossentropy", "Huber"]
    assert [h.weight for h in loaded._heads] == [2.0, 1.0]
    model.summary()
    out = capsys.readouterr().out
    assert "probs (Dense)" in out and "value (Dense)" in out
    assert "Outputs: probs, value" in out and "Total params: 58" in out


def test_whole_graph_gradient_check_with_two_outputs_passes_and_catches_a_wrong_head(rng):
    model = two_heads()
    model.compile(optimizer="sgd", loss=["categorical_crossentropy", "mse"], loss_weights=[0.7, 1.3])
    x = rng.normal(size=(6, 4))
    y = [np.eye(3)[rng.integers(0, 3, size=6)], rng.normal(size=(6, 1))]
    report = gradient_check(model, x, y)
    assert report.passed, report
    assert set(report.errors) == {f"{n}/{p}" for n in ("trunk", "probs", "value") for p in ("kernel", "bias")}

    class WrongBias(L.Dense):  # not registered: the check copies, it does not serialize
        def backward(self, grad_output):  # type: ignore[no-untyped-def]
            grad_input = super().backward(grad_output)
            self.bias.grad *= 1.05
            return grad_input

    gn.set_seed(0)
    a = L.Input(shape=(4,))
    h = L.Dense(6, activation="tanh")(a)
    broken = gn.Model(inputs=a, outputs=[L.Dense(3, activation="softmax")(h), WrongBias(1, name="wrong")(h)])
    broken.compile(optimizer="sgd", loss=["categorical_crossentropy", "mse"])
    report = gradient_check(broken, x, y)
    assert not report.passed
    assert {name for name, err in report.errors.items() if err >= report.threshold} == {"wrong/bias"}


def test_compile_and_target_errors_name_the_outputs(rng):
    model = two_heads()
    x, y = _data(rng, 8)
    with pytest.raises(ConfigError, match=r"3 entries for 2 outputs \['probs', 'value'\]"):
        model.compile(optimizer="sgd", loss=["mse", "mse", "mse"])
    with pytest.raises(ConfigError, match=r"unknown output\(s\) \['prob'\]"):
        model.compile(optimizer="sgd", loss={"prob": "mse", "value": "mse"})
    with pytest.raises(ConfigError, match=r"output\(s\) \['value'\] have no loss"):
        model.compile(optimizer="sgd", loss={"probs": "sparse_categorical_crossentropy"})
    with pytest.raises(ConfigError, match="linear"):  # the probability-loss check, per output
        model.compile(optimizer="sgd", loss=["sparse_categorical_crossentropy", "binary_crossentropy"])
    model.compile(optimizer="sgd", loss=["sparse_categorical_crossentropy", "mse"])
    with pytest.raises(ShapeError, match=r"2 outputs \['probs', 'value'\] but y is one ndarray"):
        model.fit(x, y[0], verbose=0)
    with pytest.raises(ShapeError, match=r"keys \['probs'\]"):
        model.fit(x, {"probs": y[0]}, verbose=0)
    with pytest.raises(ShapeError, match=r"y\['value'\] has 7"):
        model.fit(x, [y[0], y[1][:7]], verbose=0)
    single = gn.Sequential([L.Input(shape=(4,)), L.Dense(1)])
    with pytest.raises(ConfigError, match="loss_weights is for several outputs"):
        single.compile(optimizer="sgd", loss="mse", loss_weights=[2.0])


def test_two_head_model_matches_pytorch_over_sgd_steps(rng, float64, torch):
    model = two_heads(seed=3)
    model.compile(optimizer=gn.optimizers.SGD(0.1), loss=["sparse_categorical_crossentropy", "mse"],
                  loss_weights=[1.0, 0.5])
    x, (labels, values) = _data(rng, 16)
    x, values = x.astype(np.float64), values.astype(np.float64)
    dense = {layer.name: layer for layer in model.layers}
    # glassnet's kernel is (n_in, units); torch.nn.Linear's weight is (units, n_in) = kernel.T
    linears = {}
    for name in ("trunk", "probs", "value"):
        lin = torch.nn.Linear(*dense[name].kernel.shape, dtype=torch.float64)
        with torch.no_grad():
            lin.weight.copy_(torch.tensor(dense[name].kernel.value.T))
            lin.bias.copy_(torch.tensor(dense[name].bias.value))
        linears[name] = lin
    params = [p for lin in linears.values() for p in lin.parameters()]
    opt = torch.optim.SGD(params, lr=0.1)
    xt, lt, vt = torch.tensor(x), torch.tensor(labels), torch.tensor(values)
    torch_losses = []
    for _ in range(4):
        opt.zero_grad()
        h = torch.tanh(linears["trunk"](xt))
        ce = torch.nn.functional.cross_entropy(linears["probs"](h), lt)  # softmax + log, from logits
        mse = torch.nn.functional.mse_loss(linears["value"](h), vt)
        loss = ce + 0.5 * mse
        loss.backward()
        opt.step()
        torch_losses.append(loss.item())
    history = model.fit(x, [labels, values], epochs=4, batch_size=16, shuffle=False, verbose=0).history
    np.testing.assert_allclose(history["loss"], torch_losses, rtol=1e-10)
    for name, lin in linears.items():
        np.testing.assert_allclose(dense[name].kernel.value, lin.weight.detach().numpy().T, rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(dense[name].bias.value, lin.bias.detach().numpy(), rtol=1e-10, atol=1e-12)
