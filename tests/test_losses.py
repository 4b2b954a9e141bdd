"""Losses: gradient checks, PyTorch parity, fused gradients, label errors, huge logits."""

from __future__ import annotations

import numpy as np
import pytest

import glassnet as gn
from glassnet.diagnostics import check_loss


def _probabilities(rng, shape):
    z = rng.normal(size=shape)
    e = np.exp(z - z.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


def _cases(rng):
    onehot = np.eye(4)[rng.integers(0, 4, size=6)]
    labels = onehot.argmax(-1)
    binary = rng.integers(0, 2, size=(6, 3)).astype(float)
    signs = np.where(rng.random((6, 1)) < 0.5, -1.0, 1.0)
    reg_true, reg_pred = rng.normal(size=(6, 3)), rng.normal(size=(6, 3))
    reg_pred = np.where(np.abs(reg_pred - reg_true) < 0.05, reg_true + 0.3, reg_pred)  # away from MAE's kink
    huber_pred = np.where(np.abs(np.abs(reg_pred - reg_true) - 0.8) < 0.05, reg_true + 0.3, reg_pred)
    scores = signs * rng.uniform(0.2, 2.0, size=(6, 1)) * np.where(rng.random((6, 1)) < 0.5, -1, 1)
    return {
        "mse": (gn.losses.MeanSquaredError(), reg_true, reg_pred),
        "mae": (gn.losses.MeanAbsoluteError(), reg_true, reg_pred),
        "huber": (gn.losses.Huber(delta=0.8), reg_true, huber_pred),
        "bce": (gn.losses.BinaryCrossentropy(), binary, rng.uniform(0.05, 0.95, size=(6, 3))),
        "bce_logits": (gn.losses.BinaryCrossentropy(from_logits=True), binary, rng.normal(size=(6, 3)) * 3),
        "cce": (gn.losses.CategoricalCrossentropy(), onehot, _probabilities(rng, (6, 4))),
        "cce_logits": (gn.losses.CategoricalCrossentropy(from_logits=True), onehot, rng.normal(size=(6, 4))),
        "sparse": (gn.losses.SparseCategoricalCrossentropy(), labels, _probabilities(rng, (6, 4))),
        "sparse_logits": (gn.losses.SparseCategoricalCrossentropy(from_logits=True), labels, rng.normal(size=(6, 4))),
        "perceptron": (gn.losses.Perceptron(), signs, scores),
        "hinge": (gn.losses.Hinge(), signs, np.where(np.abs(np.abs(scores) - 1) < 0.1, 0.5, scores)),
    }


@pytest.mark.parametrize("case", ["mse", "mae", "huber", "bce", "bce_logits", "cce", "cce_logits", "sparse",
                                  "sparse_logits", "perceptron", "hinge"])
def test_loss_passes_gradient_check(case, rng):
    loss, y_true, y_pred = _cases(rng)[case]
    report = check_loss(loss, y_true, y_pred)
    assert report.passed, report


def _torch_value(torch, case, yt, pt):
    F = torch.nn.functional
    return {
        "mse": lambda: F.mse_loss(pt, yt),
        "mae": lambda: F.l1_loss(pt, yt),
        "huber": lambda: F.huber_loss(pt, yt, delta=0.8),
        "bce": lambda: F.binary_cross_entropy(pt, yt),
        "bce_logits": lambda: F.binary_cross_entropy_with_logits(pt, yt),
        "cce": lambda: F.nll_loss(torch.log(pt), yt.argmax(-1)),
        "cce_logits": lambda: F.cross_entropy(pt, yt),
        "sparse": lambda: F.nll_loss(torch.log(pt), yt.long()),
        "sparse_logits": lambda: F.cross_entropy(pt, yt.long()),
    }[case]()


@pytest.mark.parametrize("case", ["mse", "mae", "huber", "bce", "bce_logits", "cce", "cce_logits", "sparse",
                                  "sparse_logits"])
def test_loss_matches_pytorch(case, rng, torch):
    loss, y_true, y_pred = _cases(rng)[case]
    pt = torch.tensor(y_pred, requires_grad=True)
    ref = _torch_value(torch, case, torch.tensor(y_true), pt)
    ref.backward()
    np.testing.assert_allclose(loss(y_true, y_pred), ref.item(), rtol=1e-12)
    np.testing.assert_allclose(loss.gradient(y_true, y_pred), pt.grad.numpy(), rtol=1e-10, atol=1e-15)


def test_perceptron_and_hinge_match_their_formulas(rng):
    y = np.array([[1.0], [-1.0], [1.0], [0.0]])  # 0 counts as the negative class
    s = np.array([[0.5], [0.3], [-2.0], [-0.4]])
    signed = np.array([[1.0], [-1.0], [1.0], [-1.0]])
    assert gn.losses.Perceptron()(y, s) == pytest.approx(np.mean(np.maximum(0, -signed * s)))
    assert gn.losses.Hinge()(y, s) == pytest.approx(np.mean(np.maximum(0, 1 - signed * s)))


@pytest.mark.parametrize(("loss", "activation", "targets"), [
    (gn.losses.BinaryCrossentropy(), "sigmoid", "binary"),
    (gn.losses.CategoricalCrossentropy(), "softmax", "onehot"),
    (gn.losses.SparseCategoricalCrossentropy(), "softmax", "labels"),
])
def test_fused_gradient_equals_the_chain_rule_and_is_p_minus_y_over_n(loss, activation, targets, rng):
    z = rng.normal(size=(5, 3))
    act = gn.activations.get(activation)
    p = act(z)
    y = {"binary": rng.integers(0, 2, size=(5, 3)).astype(float), "onehot": np.eye(3)[rng.integers(0, 3, 5)],
         "labels": rng.integers(0, 3, 5)}[targets]
    fused = loss.fused_gradient(y, p)
    chained = act.backward(loss.gradient(y, p), p)
    np.testing.assert_allclose(fused, chained, rtol=1e-9, atol=1e-15)
    dense_y = np.eye(3)[y] if targets == "labels" else y
    n = p.size if targets == "binary" else len(p)
    np.testing.assert_allclose(fused, (p - dense_y) / n, rtol=1e-12)


@pytest.mark.parametrize("loss", [gn.losses.BinaryCrossentropy(), gn.losses.BinaryCrossentropy(from_logits=True),
                                  gn.losses.CategoricalCrossentropy(from_logits=True)])
def test_huge_logits_give_finite_losses_and_gradients(loss):
    if isinstance(loss, gn.losses.BinaryCrossentropy) and not loss.from_logits:
        pred = gn.activations.get("sigmoid")(np.array([[1000.0], [-1000.0]], dtype=np.float32))
        y = np.array([[0.0], [1.0]], dtype=np.float32)  # maximally wrong
        grads = [loss.gradient(y, pred), loss.fused_gradient(y, pred)]
    elif isinstance(loss, gn.losses.BinaryCrossentropy):
        pred, y = np.array([[1000.0], [-1000.0]]), np.array([[0.0], [1.0]])
        grads = [loss.gradient(y, pred)]
    else:
        pred, y = np.array([[1000.0, -1000.0, 0.0]]), np.array([[0.0, 1.0, 0.0]])
        grads = [loss.gradient(y, pred)]
    value = loss(y, pred)
    assert np.isfinite(value) and value > 10
    assert all(np.all(np.isfinite(g)) for g in grads)


def test_sparse_loss_given_one_hot_labels_names_the_loss_to_use():
    with pytest.raises(gn.LabelError, match="categorical_crossentropy"):
        gn.losses.SparseCategoricalCrossentropy()(np.eye(3), np.full((3, 3), 1 / 3))


def test_categorical_loss_given_integer_labels_names_the_sparse_loss():
    with pytest.raises(gn.LabelError, match="sparse_categorical_crossentropy"):
        gn.losses.CategoricalCrossentropy()(np.array([0, 1, 2]), np.full((3, 3), 1 / 3))


def test_regression_targets_of_shape_n_are_aligned_with_outputs_of_shape_n_1():
    loss = gn.losses.MeanSquaredError()
    y, p = np.array([1.0, 2.0, 3.0]), np.array([[1.0], [2.0], [5.0]])
    assert loss(y, p) == pytest.approx(4 / 3)  # not the (3, 3) broadcast
    assert loss.gradient(y, p).shape == (3, 1)


def test_losses_keep_float32(rng):
    for name in ["mse", "mae", "huber", "binary_crossentropy", "categorical_crossentropy", "hinge"]:
        loss = gn.losses.get(name)
        p = rng.uniform(0.1, 0.9, size=(4, 3)).astype(np.float32)
        y = np.eye(3, dtype=np.float32)[[0, 1, 2, 0]]
        assert loss.gradient(y, p).dtype == np.float32, name
    sparse = gn.losses.SparseCategoricalCrossentropy()
    p = np.full((2, 3), 1 / 3, dtype=np.float32)
    assert sparse.gradient(np.array([0, 2]), p).dtype == np.float32
    assert sparse.fused_gradient(np.array([0, 2]), p).dtype == np.float32


def test_unknown_loss_lists_the_valid_names():
    with pytest.raises(gn.UnknownNameError, match="mse"):
        gn.losses.get("msee")


# -- the fused softmax gradient is the gradient of the reported loss for any targets (issue 10, item 6) ----
def _soft_targets(kind, rng, shape=(6, 4)):
    if kind == "soft":  # rows sum to 1
        return _probabilities(rng, shape)
    if kind == "unnormalized":  # rows sum to anything in [0.3, 2.5]
        return _probabilities(rng, shape) * rng.uniform(0.3, 2.5, size=(shape[0], 1))
    return np.eye(shape[-1])[rng.integers(0, shape[-1], shape[0])] * rng.uniform(0.2, 3.0, size=(shape[0], 1))


@pytest.mark.parametrize("kind", ["soft", "unnormalized", "sample_weighted_one_hot"])
def test_softmax_fused_gradient_matches_torch_cross_entropy_with_soft_targets(kind, rng, torch):
    z, y = rng.normal(size=(6, 4)), _soft_targets(kind, rng)
    zt = torch.tensor(z, requires_grad=True)
    torch.nn.functional.cross_entropy(zt, torch.tensor(y)).backward()  # -(1/N) sum y log softmax(z)
    loss = gn.losses.CategoricalCrossentropy()
    p = gn.activations.get("softmax")(z)
    np.testing.assert_allclose(loss.fused_gradient(y, p), zt.grad.numpy(), rtol=1e-10, atol=1e-14)
    logits_grad = gn.losses.CategoricalCrossentropy(from_logits=True).gradient(y, z)
    np.testing.assert_allclose(loss.fused_gradient(y, p), logits_grad, rtol=1e-10, atol=1e-14)
    chained = gn.activations.get("softmax").backward(loss.gradient(y, p), p)
    np.testing.assert_allclose(loss.fused_gradient(y, p), chained, rtol=1e-9, atol=1e-14)


def _head_model(activation, units, seed):
    gn.set_seed(seed)
    return gn.Sequential([gn.layers.Input(shape=(5,)), gn.layers.Dense(8, activation="tanh"),
                          gn.layers.Dense(units, activation=activation)])


@pytest.mark.parametrize(("name", "activation", "kind"), [
    ("categorical_crossentropy", "softmax", "unnormalized"),
    ("categorical_crossentropy", "softmax", "sample_weighted_one_hot"),
    ("categorical_crossentropy", "softmax", "soft"),
    ("binary_crossentropy", "sigmoid", "soft"),  # (p - y) / N is exact for any y in [0, 1]
])
def test_model_trains_the_same_with_the_activation_in_the_model_or_in_the_loss(name, activation, kind, rng,
                                                                               float64):
    x = rng.normal(size=(40, 5))
    y = _soft_targets(kind, rng, (40, 3)) if activation == "softmax" else rng.uniform(0, 1, size=(40, 3))
    fused, logits = _head_model(activation, 3, 0), _head_model(None, 3, 0)
    logits.set_weights(fused.get_weights())
    fused.compile(optimizer=gn.optimizers.SGD(0.2, momentum=0.9), loss=name)
    logits.compile(optimizer=gn.optimizers.SGD(0.2, momentum=0.9), loss=type(gn.losses.get(name))(from_logits=True))
    # fit takes only rows that sum to 1 (issue 11): scaled rows y = s * q are q with sample_weight=s,
    # the same loss sum_i s_i (-sum_c q_ic log p_ic) / N and the same gradients
    weights = y.sum(axis=1) if activation == "softmax" else None
    if weights is not None:
        y = y / weights[:, None]
    a = fused.fit(x, y, epochs=5, batch_size=8, shuffle=False, verbose=0, sample_weight=weights).history["loss"]
    b = logits.fit(x, y, epochs=5, batch_size=8, shuffle=False, verbose=0, sample_weight=weights).history["loss"]
    np.testing.assert_allclose(a, b, rtol=1e-9)
    for wa, wb in zip(fused.get_weights(), logits.get_weights(), strict=True):
        np.testing.assert_allclose(wa, wb, rtol=1e-8, atol=1e-12)
