"""L1 / L2 / L1L2: penalties and gradients, strings, and the Keras convention inside a training step."""

from __future__ import annotations

import numpy as np
import pytest

import glassnet as gn
from glassnet import regularizers
from glassnet.diagnostics.gradcheck import numeric_gradient, relative_error
from glassnet.layers import Dense, Input


def _check_gradient(regularizer, w):
    numeric = numeric_gradient(lambda: regularizer.penalty(w), w)
    return relative_error(numeric, regularizer.gradient(w))


def test_l1_gradient_check_away_from_zero(rng):
    w = rng.uniform(0.1, 1.0, size=(4, 3)) * rng.choice([-1.0, 1.0], size=(4, 3))
    assert _check_gradient(regularizers.L1(0.03), w) < 1e-6


def test_l2_and_l1l2_gradient_checks(rng):
    w = rng.normal(size=(5, 2))
    assert _check_gradient(regularizers.L2(0.02), w) < 1e-6
    w = rng.uniform(0.1, 1.0, size=(5, 2)) * rng.choice([-1.0, 1.0], size=(5, 2))
    assert _check_gradient(regularizers.L1L2(l1=0.01, l2=0.05), w) < 1e-6


def test_penalties_follow_the_formulas():
    w = np.array([[1.0, -2.0], [0.5, 0.0]])
    assert regularizers.L1(0.1).penalty(w) == pytest.approx(0.1 * 3.5)
    assert regularizers.L2(0.1).penalty(w) == pytest.approx(0.1 * 5.25)  # no 1/2 (Keras)
    assert regularizers.L1L2(0.1, 0.2)(w) == pytest.approx(0.35 + 1.05)
    np.testing.assert_allclose(regularizers.L1(0.1).gradient(w), [[0.1, -0.1], [0.1, 0.0]])
    np.testing.assert_allclose(regularizers.L2(0.1).gradient(w), 0.2 * w)


def test_strings_resolve_and_unknown_names_are_refused():
    assert isinstance(regularizers.get("l1"), regularizers.L1)
    assert regularizers.get("l2").l2 == 0.01
    assert regularizers.get(None) is None
    layer = Dense(3, kernel_regularizer="l2", bias_regularizer="l1")
    layer.build((2,))
    assert isinstance(layer.kernel.regularizer, regularizers.L2)
    assert isinstance(layer.bias.regularizer, regularizers.L1)
    with pytest.raises(gn.UnknownNameError, match="l3"):
        Dense(3, kernel_regularizer="l3")
    with pytest.raises(gn.ConfigError, match="l2"):
        regularizers.L2(-0.1)


def test_gradient_keeps_float32():
    w = np.ones((3, 3), dtype=np.float32)
    grad = np.zeros_like(w)
    regularizers.L1L2(0.1, 0.1).add_gradient(w, grad)
    assert grad.dtype == np.float32


def _twin_models(seed: int, regularizer):
    """Two identical linear models, the second with a kernel regularizer."""
    models = []
    for reg in (None, regularizer):
        model = gn.Sequential([Input(shape=(3,)), Dense(2, kernel_regularizer=reg)])
        model.compile(optimizer=gn.optimizers.SGD(learning_rate=0.1), loss="mse")
        models.append(model)
    start = np.random.default_rng(seed).normal(size=(3, 2)).astype(np.float32)
    for model in models:
        model.layers[0].kernel.value = start
    return models, start


@pytest.mark.parametrize("regularizer", [regularizers.L2(0.05), regularizers.L1(0.05)])
def test_training_step_adds_penalty_of_the_pre_update_weights(rng, regularizer):
    """Keras convention: reported loss = data loss + penalty(weights used in the forward pass), and the
    update uses the gradient plus the penalty's gradient: w1 = w0 - lr * (dL/dw + dR/dw)."""
    (plain, penalized), w0 = _twin_models(0, regularizer)
    x = rng.normal(size=(16, 3)).astype(np.float32)
    y = rng.normal(size=(16, 2)).astype(np.float32)
    h_plain = plain.fit(x, y, epochs=1, batch_size=16, shuffle=False, verbose=0)
    h_pen = penalized.fit(x, y, epochs=1, batch_size=16, shuffle=False, verbose=0)
    expected_penalty = regularizer.penalty(w0.astype(np.float64))
    assert h_pen.history["loss"][0] - h_plain.history["loss"][0] == pytest.approx(expected_penalty, rel=1e-5)
    w_plain = plain.layers[0].kernel.value
    w_pen = penalized.layers[0].kernel.value
    np.testing.assert_allclose(w_pen - w_plain, -0.1 * regularizer.gradient(w0), rtol=1e-4, atol=1e-7)


def test_regularizer_survives_save_and_load(tmp_path):
    model = gn.Sequential([Input(shape=(2,)), Dense(2, kernel_regularizer=regularizers.L1L2(0.01, 0.02))])
    model.compile(optimizer="sgd", loss="mse")
    model.save(tmp_path / "r.glassnet")
    reg = gn.load_model(tmp_path / "r.glassnet").layers[0].kernel.regularizer
    assert (reg.l1, reg.l2) == (0.01, 0.02)
