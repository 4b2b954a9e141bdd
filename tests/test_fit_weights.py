"""Issue 11 item 6: fit(sample_weight=, class_weight=, steps_per_epoch=), train/test/predict_on_batch,
evaluate/predict progress (the Keras 3 contract)."""

from __future__ import annotations

import io

import numpy as np
import pytest

import glassnet as gn
from glassnet.callbacks.progress import StepProgress
from glassnet.models import steps, weighting

L = gn.layers


@pytest.mark.parametrize(("name", "torch_loss", "targets"), [
    ("mse", "mse_loss", "real"),
    ("mae", "l1_loss", "real"),
    ("huber", "huber_loss", "real"),
    ("binary_crossentropy", "binary_cross_entropy", "binary"),
    ("categorical_crossentropy", "cross_entropy_probs", "one_hot"),
    ("sparse_categorical_crossentropy", "nll_log", "labels"),
])
def test_per_sample_losses_match_torch_reduction_none(name, torch_loss, targets, rng, torch):
    F = torch.nn.functional
    p = rng.uniform(0.05, 0.95, size=(6, 3))
    if targets == "one_hot" or targets == "labels":
        p = p / p.sum(axis=1, keepdims=True)
    labels = rng.integers(0, 3, 6)
    y = {"real": rng.normal(size=(6, 3)), "binary": rng.integers(0, 2, (6, 3)).astype(float),
         "one_hot": np.eye(3)[labels], "labels": labels}[targets]
    pt, yt = torch.tensor(p), torch.tensor(y)
    if torch_loss == "cross_entropy_probs":
        expected = -(yt * torch.log(pt)).sum(dim=1)
    elif torch_loss == "nll_log":
        expected = F.nll_loss(torch.log(pt), torch.tensor(labels), reduction="none")
    else:
        expected = getattr(F, torch_loss)(pt, yt, reduction="none").mean(dim=1)
    loss = gn.losses.get(name)
    each = loss.per_sample(y, p)
    np.testing.assert_allclose(each, expected.numpy(), rtol=1e-10)
    np.testing.assert_allclose(each.mean(), loss(y, p), rtol=1e-10)  # the mean is the reported loss


def _net(units=3, activation="softmax", seed=0):
    gn.set_seed(seed)
    return gn.Sequential([L.Input(shape=(4,)), L.Dense(5, activation="tanh"), L.Dense(units, activation=activation)])


def test_weighted_loss_and_gradients_match_torch(rng, torch, float64):
    """L_w = (1/N) sum_i w_i l_i through the fused softmax head, against autograd."""
    x, labels, w = rng.normal(size=(8, 4)), rng.integers(0, 3, 8), rng.uniform(0, 3, 8)
    model = _net()
    model.compile("sgd", "sparse_categorical_crossentropy")
    with model.training_session():
        loss = weighting.loss_and_gradients(model, x, labels, w)
    kernel0, bias0, kernel1, bias1 = (torch.tensor(a, requires_grad=True) for a in model.get_weights())
    logits = torch.tanh(torch.tensor(x) @ kernel0 + bias0) @ kernel1 + bias1  # Dense kernels are (in, out)
    each = torch.nn.functional.cross_entropy(logits, torch.tensor(labels), reduction="none")
    expected = (torch.tensor(w) * each).mean()
    expected.backward()
    assert loss == pytest.approx(expected.item(), rel=1e-10)
    for param, tensor in zip(model.parameters(), (kernel0, bias0, kernel1, bias1)):
        np.testing.assert_allclose(param.grad, tensor.grad.numpy(), rtol=1e-9, atol=1e-12)


def _fit(model, x, y, lr=0.1, **kwargs):
    model.compile(gn.optimizers.SGD(lr, momentum=0.9), "sparse_categorical_crossentropy", metrics=["accuracy"])
    history = model.fit(x, y, epochs=3, batch_size=8, verbose=0, seed=1, **kwargs)
    return history.history, model.get_weights()


def test_sample_weight_of_ones_is_the_unweighted_fit_and_class_weight_is_its_sample_weight(rng):
    x, y = rng.normal(size=(30, 4)).astype(np.float32), rng.integers(0, 3, 30)
    plain, w_plain = _fit(_net(), x, y)
    ones, w_ones = _fit(_net(), x, y, sample_weight=np.ones(30))
    np.testing.assert_allclose(plain["loss"], ones["loss"], rtol=1e-6)
    assert all(np.allclose(a, b, rtol=1e-5, atol=1e-7) for a, b in zip(w_plain, w_ones))
    table = {0: 0.5, 1: 2.0, 2: 1.0}
    by_class, w_class = _fit(_net(), x, y, class_weight=table)
    by_sample, w_sample = _fit(_net(), x, y, sample_weight=np.array([table[c] for c in y]))
    assert by_class["loss"] == by_sample["loss"] and by_class["loss"] != plain["loss"]
    assert all(np.array_equal(a, b) for a, b in zip(w_class, w_sample))
    frozen, _ = _fit(_net(), x, y, lr=0.0, class_weight=table)
    both, _ = _fit(_net(), x, y, lr=0.0, class_weight=table, sample_weight=np.full(30, 2.0))  # they multiply
    np.testing.assert_allclose(both["loss"], 2 * np.array(frozen["loss"]), rtol=1e-6)


def test_weighted_validation_data_and_evaluate_agree(rng):
    x, y, w = rng.normal(size=(30, 4)).astype(np.float32), rng.integers(0, 3, 30), rng.uniform(0, 2, 30)
    model = _net()
    model.compile("sgd", "sparse_categorical_crossentropy")
    history = model.fit(x, y, epochs=1, verbose=0, validation_data=(x, y, w)).history
    each = model.loss.per_sample(y, model.predict(x))
    assert history["val_loss"][0] == pytest.approx(float(np.mean(w * each)), rel=1e-5)
    assert model.evaluate(x, y, sample_weight=w)["loss"] == pytest.approx(history["val_loss"][0], rel=1e-6)


@pytest.mark.parametrize(("bad", "match"), [
    ({"sample_weight": np.ones(5)}, r"sample_weight must have shape \(30,\)"),
    ({"sample_weight": -np.ones(30)}, "finite and non-negative"),
    ({"class_weight": [1.0, 2.0]}, "class_weight must be a dict"),
])
def test_bad_weights_are_refused(bad, match, rng):
    x, y = rng.normal(size=(30, 4)), rng.integers(0, 3, 30)
    model = _net()
    model.compile("sgd", "sparse_categorical_crossentropy")
    with pytest.raises((gn.ConfigError, gn.ShapeError), match=match):
        model.fit(x, y, verbose=0, **bad)


class _Recording(gn.Sequential):
    def train_step(self, data):
        self.seen.append(data)
        return super().train_step(data)


def test_a_custom_train_step_gets_x_y_sample_weight_as_in_keras(rng):
    x, y, w = rng.normal(size=(8, 4)), rng.integers(0, 3, 8), rng.uniform(0, 2, 8)
    model = _Recording([L.Input(shape=(4,)), L.Dense(3, activation="softmax")])
    model.seen = []
    model.compile("sgd", "sparse_categorical_crossentropy")
    model.fit(x, y, batch_size=8, shuffle=False, sample_weight=w, verbose=0)
    xb, yb, wb = steps.unpack_x_y_sample_weight(model.seen[0])
    np.testing.assert_array_equal(wb, w.astype(np.float32))
    with pytest.raises(gn.ConfigError, match="unpack_x_y_sample_weight"):
        steps.unpack_data(model.seen[0])


def test_steps_per_epoch_runs_that_many_batches_continuing_through_the_data(rng):
    x, y = np.arange(10, dtype=np.float32).reshape(10, 1) * np.ones(4, dtype=np.float32), rng.integers(0, 3, 10)
    model = _Recording([L.Input(shape=(4,)), L.Dense(3, activation="softmax")])
    model.seen = []
    model.compile("sgd", "sparse_categorical_crossentropy")
    history = model.fit(x, y, epochs=3, batch_size=4, shuffle=False, steps_per_epoch=2, verbose=0)
    assert len(history.history["loss"]) == 3 and model.optimizer.iterations == 6
    firsts = [float(data[0][0, 0]) for data in model.seen]
    assert firsts == [0.0, 4.0, 8.0, 0.0, 4.0, 8.0]  # the batches of 4, 4, 2 samples, then again


def test_train_on_batch_is_one_step_and_returns_as_keras(rng):
    x, y = rng.normal(size=(16, 4)).astype(np.float32), rng.integers(0, 3, 16)
    by_fit, by_batch = _net(), _net()
    for model in (by_fit, by_batch):
        model.compile(gn.optimizers.SGD(0.1), "sparse_categorical_crossentropy", metrics=["accuracy"])
    logs = by_fit.fit(x, y, epochs=1, batch_size=16, shuffle=False, verbose=0).history
    result = by_batch.train_on_batch(x, y)
    assert isinstance(result, list) and result == pytest.approx([logs["loss"][0], logs["accuracy"][0]], rel=1e-6)
    assert all(np.array_equal(a, b) for a, b in zip(by_fit.get_weights(), by_batch.get_weights()))
    second = by_batch.train_on_batch(x, y, return_dict=True)
    assert set(second) == {"loss", "accuracy"} and by_batch.optimizer.iterations == 2
    plain = _net()
    plain.compile("sgd", "sparse_categorical_crossentropy")
    assert isinstance(plain.train_on_batch(x, y), float)  # no metrics: the loss alone


def test_test_and_predict_on_batch_equal_evaluate_and_predict(rng):
    x, y = rng.normal(size=(16, 4)).astype(np.float32), rng.integers(0, 3, 16)
    model = _net()
    model.compile("sgd", "sparse_categorical_crossentropy", metrics=["accuracy"])
    model.train_on_batch(x[:8], y[:8])  # metrics from this call must not leak into the next
    loss, accuracy = model.test_on_batch(x, y)
    expected = model.evaluate(x, y, batch_size=16)
    assert (loss, accuracy) == pytest.approx((expected["loss"], expected["accuracy"]), rel=1e-6)
    np.testing.assert_array_equal(model.predict_on_batch(x), model.predict(x))
    w = rng.uniform(0, 2, 16)
    assert model.test_on_batch(x, y, sample_weight=w, return_dict=True)["loss"] == pytest.approx(
        model.evaluate(x, y, sample_weight=w, batch_size=16)["loss"], rel=1e-6)


def test_evaluate_and_predict_print_progress_with_verbose(rng, capsys):
    x, y = rng.normal(size=(40, 4)).astype(np.float32), rng.integers(0, 3, 40)
    model = _net()
    model.compile("sgd", "sparse_categorical_crossentropy")
    model.evaluate(x, y, batch_size=16)
    model.predict(x)
    assert capsys.readouterr().out == ""  # verbose=0 by default
    model.evaluate(x, y, batch_size=16, verbose=1)
    out = capsys.readouterr().out
    assert out.startswith("3/3 - ") and "loss: " in out and out.count("\n") == 1
    model.predict(x, batch_size=16, verbose="auto")
    assert capsys.readouterr().out.startswith("3/3 - ")
    with pytest.raises(gn.ConfigError, match="verbose must be"):
        model.evaluate(x, y, verbose=7)


def test_step_progress_draws_a_bar_on_a_terminal():
    class Terminal(io.StringIO):
        def isatty(self):
            return True

    stream = Terminal()
    progress = StepProgress(4, 1, stream)
    progress.update(4, {"loss": 0.5})
    progress.close({"loss": 0.5})
    text = stream.getvalue()
    assert "4/4 [==============================]" in text and text.endswith("\r4/4 - 0ms - loss: 0.5000\x1b[K\n")


def test_class_weight_needs_one_class_per_sample(rng):
    model = gn.Sequential([L.Input(shape=(4, 3)), L.Dense(5, activation="softmax")])
    model.compile("sgd", "sparse_categorical_crossentropy")
    x, labels = rng.normal(size=(6, 4, 3)), rng.integers(0, 5, (6, 4))
    with pytest.raises(gn.ConfigError, match=r"one class per sample, but the targets have shape \(6, 4\)"):
        model.fit(x, labels, class_weight={0: 2.0}, verbose=0)
    model.fit(x, labels, sample_weight=np.ones(6), verbose=0)  # per-sample weights over a sequence are fine


def test_sample_weight_weighs_every_output_of_a_model_with_several(rng, torch, float64):
    """Two heads, loss_weights (1, 0.5): J = (1/N) sum_i w_i (ce_i + 0.5 se_i), against autograd."""
    gn.set_seed(0)
    a = L.Input(shape=(4,))
    h = L.Dense(6, activation="tanh")(a)
    model = gn.Model(inputs=a, outputs=[L.Dense(3, activation="softmax")(h), L.Dense(1)(h)])
    model.compile("sgd", ["sparse_categorical_crossentropy", "mse"], loss_weights=[1.0, 0.5])
    x, labels, target, w = (rng.normal(size=(8, 4)), rng.integers(0, 3, 8), rng.normal(size=(8, 1)),
                            rng.uniform(0, 2, 8))
    with model.training_session():
        loss = weighting.loss_and_gradients(model, x, [labels, target], w)
    tensors = [torch.tensor(p.value, requires_grad=True) for p in model.parameters()]
    kernel, bias, kernel_p, bias_p, kernel_v, bias_v = tensors
    hidden = torch.tanh(torch.tensor(x) @ kernel + bias)
    ce = torch.nn.functional.cross_entropy(hidden @ kernel_p + bias_p, torch.tensor(labels), reduction="none")
    se = ((hidden @ kernel_v + bias_v - torch.tensor(target)) ** 2).mean(dim=1)
    expected = (torch.tensor(w) * (ce + 0.5 * se)).mean()
    expected.backward()
    assert loss == pytest.approx(expected.item(), rel=1e-10)
    for param, tensor in zip(model.parameters(), tensors):
        np.testing.assert_allclose(param.grad, tensor.grad.numpy(), rtol=1e-9, atol=1e-12)
    history = model.fit(x, [labels, target], sample_weight=w, epochs=2, batch_size=4, verbose=0).history
    assert len(history["loss"]) == 2 and np.isfinite(history["loss"]).all()
