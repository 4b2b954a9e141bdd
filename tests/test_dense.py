"""Dense: gradient check, PyTorch parity, shapes, caches and errors."""

from __future__ import annotations

import numpy as np
import pytest

import glassnet as gn
from glassnet.diagnostics import check_layer


@pytest.mark.parametrize("activation", [None, "tanh", "sigmoid", "relu", "elu", "selu", "softmax", "leaky_relu"])
def test_dense_passes_gradient_check(activation, rng, float64):
    layer = gn.layers.Dense(3, activation=activation)
    layer.build((4,))
    report = check_layer(layer, rng.normal(size=(5, 4)))
    assert report.passed, report
    assert set(report.errors) == {"input", "dense/kernel", "dense/bias"}


def test_dense_gradient_check_on_nd_input(rng, float64):
    layer = gn.layers.Dense(2, activation="tanh", use_bias=True)
    report = check_layer(layer, rng.normal(size=(3, 4, 5)))
    assert report.passed, report
    assert layer.output_shape == (4, 2)


def test_dense_matches_pytorch_linear(rng, float64, torch):
    x = rng.normal(size=(6, 4))
    g = rng.normal(size=(6, 3))
    layer = gn.layers.Dense(3, activation="tanh")
    y = layer.forward(x, training=True)
    grad_x = layer.backward(g)
    linear = torch.nn.Linear(4, 3)
    with torch.no_grad():
        linear.weight.copy_(torch.tensor(layer.kernel.value.T))
        linear.bias.copy_(torch.tensor(layer.bias.value))
    xt = torch.tensor(x, requires_grad=True)
    yt = torch.tanh(linear(xt))
    yt.backward(torch.tensor(g))
    np.testing.assert_allclose(y, yt.detach().numpy(), rtol=1e-10)
    np.testing.assert_allclose(grad_x, xt.grad.numpy(), rtol=1e-10)
    np.testing.assert_allclose(layer.kernel.grad, linear.weight.grad.numpy().T, rtol=1e-10)
    np.testing.assert_allclose(layer.bias.grad, linear.bias.grad.numpy(), rtol=1e-10)


def test_dense_parameters_shapes_and_order():
    layer = gn.layers.Dense(7)
    layer.build((3,))
    kernel, bias = layer.parameters()
    assert (kernel.name, kernel.shape, bias.name, bias.shape) == ("dense/kernel", (3, 7), "dense/bias", (7,))
    assert kernel.grad.shape == kernel.shape and not kernel.grad.any()
    assert kernel.dtype == np.float32
    assert len(gn.layers.Dense(2, use_bias=False).parameters()) == 0  # unbuilt
    layer_nb = gn.layers.Dense(2, use_bias=False)
    layer_nb.build((3,))
    assert [p.name for p in layer_nb.parameters()] == ["dense_2/kernel"]  # the third Dense() of the test


def test_dense_builds_from_its_first_input_and_keeps_float32(rng):
    layer = gn.layers.Dense(4, activation="relu")
    y = layer.forward(rng.normal(size=(2, 3)).astype(np.float32))
    assert layer.built and layer.input_shape == (3,) and y.shape == (2, 4) and y.dtype == np.float32


def test_cache_holds_only_what_backward_needs_and_is_empty_after_inference(rng):
    layer = gn.layers.Dense(4, activation="relu")
    x = rng.normal(size=(2, 3))
    layer.forward(x, training=True)
    assert set(layer.cache) == {"x", "a"}
    layer.forward(x, training=False)
    assert layer.cache == {}


def test_backward_before_forward_is_a_clear_error():
    layer = gn.layers.Dense(2)
    layer.build((3,))
    with pytest.raises(gn.StateError, match="training=True"):
        layer.backward(np.ones((1, 2)))


def test_backward_does_not_modify_grad_output(rng):
    layer = gn.layers.Dense(3, activation="relu")
    layer.forward(rng.normal(size=(4, 2)), training=True)
    g = rng.normal(size=(4, 3))
    before = g.copy()
    layer.backward(g)
    np.testing.assert_array_equal(g, before)


def test_shape_mismatch_names_the_layer_and_both_shapes(rng):
    layer = gn.layers.Dense(2, name="hidden")
    layer.forward(rng.normal(size=(2, 3)))
    with pytest.raises(gn.ShapeError, match=r"'hidden'.*\(batch, \.\.\., 3\).*\(2, 5\)"):
        layer.forward(rng.normal(size=(2, 5)))


@pytest.mark.parametrize("units", [0, -3, 2.5, "4", True])
def test_invalid_units_are_refused(units):
    with pytest.raises(gn.ConfigError, match="units"):
        gn.layers.Dense(units)


def test_unknown_initializer_is_refused_at_construction():
    with pytest.raises(gn.UnknownNameError, match="he_normal"):
        gn.layers.Dense(2, kernel_initializer="he_norm")
