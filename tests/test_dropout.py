"""Dropout: inverted scaling, one mask for forward and backward, exact drop rate, identity at inference."""

from __future__ import annotations

import numpy as np
import pytest

import glassnet as gn
from glassnet.diagnostics.gradcheck import check_layer
from glassnet.layers import Dense, Dropout, Input


@pytest.mark.parametrize("rate", [-0.1, 1.0, 1.5, float("nan"), "half"])
def test_rate_outside_unit_interval_is_refused(rate):
    with pytest.raises(gn.ConfigError, match="rate"):
        Dropout(rate)


def test_inference_is_identity(rng):
    x = rng.normal(size=(6, 5)).astype(np.float32)
    layer = Dropout(0.5, seed=0)
    np.testing.assert_array_equal(layer.forward(x, training=False), x)
    assert layer.cache == {}


def test_gradient_check_with_a_fixed_mask(float64, rng):
    layer = Dropout(0.4)
    report = check_layer(
        layer, rng.normal(size=(5, 7)), before_forward=lambda: layer.reseed(np.random.default_rng(3))
    )
    assert report.max_relative_error < 1e-6, report


def test_forward_and_backward_use_one_mask_and_scale_survivors(rng):
    rate = 0.25
    layer = Dropout(rate, seed=1)
    x = rng.uniform(1.0, 2.0, size=(40, 30))  # never zero, so a zero output means a dropped unit
    y = layer.forward(x, training=True)
    kept = y != 0
    np.testing.assert_allclose(y[kept], x[kept] / (1 - rate), rtol=1e-6)
    grad = rng.normal(size=x.shape)
    grad_input = layer.backward(grad)
    np.testing.assert_array_equal(grad_input[~kept], 0.0)
    np.testing.assert_allclose(grad_input[kept], grad[kept] / (1 - rate), rtol=1e-6)


@pytest.mark.parametrize("rate", [0.1, 0.5, 0.8])
def test_fraction_zeroed_and_mean_within_three_sigma(rate):
    n = 200_000
    y = Dropout(rate, seed=7).forward(np.ones((n // 100, 100), dtype=np.float32), training=True)
    fraction = np.mean(y == 0)
    assert abs(fraction - rate) < 3 * np.sqrt(rate * (1 - rate) / n)
    # each output is 0 or 1/(1-rate): mean 1, variance rate/(1-rate)
    assert abs(float(y.mean(dtype=np.float64)) - 1.0) < 3 * np.sqrt(rate / (1 - rate) / n)


def test_small_rate_is_not_rounded_to_a_coarse_grid():
    """rate = 0.0012: a 1/256 grid would drop 0 or 0.39% of units; expected 2400 of 2M within 3 sigma."""
    rate, n = 0.0012, 2_000_000
    dropped = int(
        np.count_nonzero(Dropout(rate, seed=11).forward(np.ones((n // 1000, 1000)), training=True) == 0)
    )
    assert abs(dropped - rate * n) < 3 * np.sqrt(n * rate * (1 - rate))


def test_matches_torch_scaling_and_eval_identity(torch, rng):
    rate = 0.3
    x = rng.uniform(1.0, 2.0, size=(50, 40))
    ours = Dropout(rate, seed=2).forward(x, training=True)
    torch.manual_seed(0)
    reference = torch.nn.Dropout(rate)
    theirs = reference(torch.tensor(x)).numpy()
    # masks differ (different generators); the survivors' scaling must agree
    np.testing.assert_allclose(ours[ours != 0] / x[ours != 0], 1 / (1 - rate))
    np.testing.assert_allclose(theirs[theirs != 0] / x[theirs != 0], 1 / (1 - rate))
    reference.eval()
    np.testing.assert_array_equal(
        reference(torch.tensor(x)).numpy(), Dropout(rate).forward(x, training=False)
    )


def test_dtype_is_kept(rng):
    layer = Dropout(0.2, seed=0)
    x = rng.normal(size=(4, 3)).astype(np.float32)
    assert layer.forward(x, training=True).dtype == np.float32
    assert layer.backward(np.ones_like(x)).dtype == np.float32


def test_same_seed_same_mask_and_seeded_fit_is_reproducible(rng):
    x = rng.normal(size=(8, 6))
    np.testing.assert_array_equal(
        Dropout(0.5, seed=4).forward(x, True), Dropout(0.5, seed=4).forward(x, True)
    )
    data = rng.normal(size=(64, 3)).astype(np.float32)
    target = data @ np.array([[1.0], [-2.0], [0.5]], dtype=np.float32)

    def train() -> list[np.ndarray]:
        model = gn.Sequential([Dense(16, activation="relu"), Dropout(0.5), Dense(1)])
        model.compile(optimizer="sgd", loss="mse")
        model.fit(data, target, epochs=3, batch_size=16, verbose=0, seed=9)
        return model.get_weights()

    for a, b in zip(train(), train(), strict=True):
        np.testing.assert_array_equal(a, b)


def test_rate_zero_passes_gradients_through(rng):
    layer = Dropout(0.0)
    x = rng.normal(size=(3, 2))
    np.testing.assert_array_equal(layer.forward(x, training=True), x)
    np.testing.assert_array_equal(layer.backward(x), x)


def test_saved_model_keeps_the_rate(tmp_path):
    model = gn.Sequential([Input(shape=(4,)), Dense(3), Dropout(0.35, seed=5)])
    model.compile(optimizer="sgd", loss="mse")
    model.save(tmp_path / "m.glassnet")
    loaded = gn.load_model(tmp_path / "m.glassnet")
    assert isinstance(loaded.layers[1], Dropout)
    assert loaded.layers[1].rate == 0.35
    assert loaded.layers[1].output_shape == (3,)
