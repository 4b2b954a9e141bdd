"""Activation functions and layers: gradient checks, PyTorch parity, formulas."""

from __future__ import annotations

import numpy as np
import pytest

import glassnet as gn
from glassnet.diagnostics import check_layer

LAYERS = {
    "relu": lambda: gn.layers.ReLU(),
    "leaky_relu": lambda: gn.layers.LeakyReLU(alpha=0.1),
    "prelu": lambda: gn.layers.PReLU(),
    "elu": lambda: gn.layers.ELU(alpha=0.7),
    "sigmoid": lambda: gn.layers.Sigmoid(),
    "tanh": lambda: gn.layers.Tanh(),
    "selu": lambda: gn.layers.SELU(),
    "softmax": lambda: gn.layers.Softmax(),
    "linear": lambda: gn.layers.Activation("linear"),
}


def _away_from_kink(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    x = rng.normal(size=shape)
    return np.where(np.abs(x) < 0.05, 0.5, x)  # finite differences straddling 0 would see the kink


@pytest.mark.parametrize("name", sorted(LAYERS))
def test_activation_layer_passes_gradient_check(name, rng, float64):
    layer = LAYERS[name]()
    report = check_layer(layer, _away_from_kink(rng, (6, 5)))
    assert report.passed, report


def _torch_reference(torch, name):
    F = torch.nn.functional
    return {
        "relu": F.relu,
        "leaky_relu": lambda t: F.leaky_relu(t, 0.1),
        "elu": lambda t: F.elu(t, 0.7),
        "sigmoid": torch.sigmoid,
        "tanh": torch.tanh,
        "selu": F.selu,
        "softmax": lambda t: F.softmax(t, dim=-1),
        "linear": lambda t: t,
    }[name]


@pytest.mark.parametrize("name", sorted(set(LAYERS) - {"prelu"}))
def test_activation_layer_matches_pytorch(name, rng, float64, torch):
    x = _away_from_kink(rng, (7, 4)) * 3
    g = rng.normal(size=x.shape)
    layer = LAYERS[name]()
    y = layer.forward(x, training=True)
    grad_x = layer.backward(g)
    xt = torch.tensor(x, requires_grad=True)
    yt = _torch_reference(torch, name)(xt)
    yt.backward(torch.tensor(g))
    np.testing.assert_allclose(y, yt.detach().numpy(), rtol=1e-10, atol=1e-300)
    np.testing.assert_allclose(grad_x, xt.grad.numpy(), rtol=1e-10, atol=1e-15)


def test_prelu_matches_pytorch_including_alpha_gradient(rng, float64, torch):
    x = _away_from_kink(rng, (8, 3))
    g = rng.normal(size=x.shape)
    layer = gn.layers.PReLU()
    y = layer.forward(x, training=True)
    grad_x = layer.backward(g)
    ref = torch.nn.PReLU(num_parameters=3, init=0.25)
    xt = torch.tensor(x, requires_grad=True)
    yt = ref(xt)
    yt.backward(torch.tensor(g))
    np.testing.assert_allclose(y, yt.detach().numpy(), rtol=1e-12)
    np.testing.assert_allclose(grad_x, xt.grad.numpy(), rtol=1e-12)
    np.testing.assert_allclose(layer.alpha.grad, ref.weight.grad.numpy(), rtol=1e-10)
    assert layer.alpha.value.tolist() == [0.25, 0.25, 0.25]


def test_selu_uses_the_published_constants():
    x = np.array([[-1.0, 2.0]])
    y = gn.activations.get("selu")(x)
    lam, alpha = 1.0507009873554805, 1.6732632423543772
    np.testing.assert_allclose(y, [[lam * alpha * (np.exp(-1.0) - 1), lam * 2.0]], rtol=1e-15)


def test_sigmoid_and_softmax_stay_finite_for_huge_inputs():
    x = np.array([[-1000.0, 0.0, 1000.0]], dtype=np.float32)
    s = gn.activations.get("sigmoid")(x)
    p = gn.activations.get("softmax")(x)
    assert np.all(np.isfinite(s)) and np.all(np.isfinite(p))
    np.testing.assert_allclose(s, [[0.0, 0.5, 1.0]])
    np.testing.assert_allclose(p, [[0.0, 0.0, 1.0]])
    assert s.dtype == np.float32 and p.dtype == np.float32


@pytest.mark.parametrize("name", gn.activations.names())
def test_every_activation_keeps_float32(name):
    x = np.linspace(-2, 2, 12, dtype=np.float32).reshape(3, 4)
    act = gn.activations.get(name)
    a = act.forward(x.copy())
    assert a.dtype == np.float32
    assert act.backward(np.ones_like(a), a).dtype == np.float32


def test_unknown_activation_is_refused_at_construction_with_the_valid_names():
    with pytest.raises(gn.UnknownNameError, match=r"'relux'.*relu.*sigmoid"):
        gn.layers.Dense(3, activation="relux")
    with pytest.raises(ValueError):
        gn.layers.Activation("nope")


def test_activation_layer_cache_is_empty_after_inference(rng):
    layer = gn.layers.Tanh()
    layer.forward(rng.normal(size=(2, 3)), training=True)
    assert set(layer.cache) == {"a"}
    layer.forward(rng.normal(size=(2, 3)))
    assert layer.cache == {}


# -- gelu, swish/silu, softplus (the Transformer issue) ------------------------------------------------
SMOOTH = {
    "gelu": (lambda: gn.layers.GELU(), lambda torch, t: torch.nn.functional.gelu(t)),
    "gelu_tanh": (lambda: gn.layers.GELU(approximate="tanh"),
                  lambda torch, t: torch.nn.functional.gelu(t, approximate="tanh")),
    "swish": (lambda: gn.layers.Swish(), lambda torch, t: torch.nn.functional.silu(t)),
    "silu": (lambda: gn.layers.Activation("silu"), lambda torch, t: torch.nn.functional.silu(t)),
    "softplus": (lambda: gn.layers.Softplus(), lambda torch, t: torch.nn.functional.softplus(t)),
}


@pytest.mark.parametrize("name", sorted(SMOOTH))
def test_smooth_activation_matches_pytorch_and_passes_gradient_check(name, rng, float64, torch):
    x = rng.normal(size=(40, 5)) * 4  # both tails of gelu and swish, where a = f(z) is not invertible
    g = rng.normal(size=x.shape)
    layer = SMOOTH[name][0]()
    y = layer.forward(x, training=True)
    grad_x = layer.backward(g)
    xt = torch.tensor(x, requires_grad=True)
    yt = SMOOTH[name][1](torch, xt)
    yt.backward(torch.tensor(g))
    np.testing.assert_allclose(y, yt.detach().numpy(), rtol=1e-10, atol=1e-14)
    np.testing.assert_allclose(grad_x, xt.grad.numpy(), rtol=1e-10, atol=1e-14)
    assert check_layer(SMOOTH[name][0](), x[:8]).passed
    assert layer.forward(x.astype(np.float32)).dtype == np.float32


def test_erf_is_exact_to_rounding():
    import math

    x = np.concatenate([np.linspace(-7, 7, 2001), [0.0, 1e-300, -40.0, 40.0]])
    expected = np.array([math.erf(v) for v in x])
    np.testing.assert_allclose(gn.activations.erf(x), expected, rtol=0, atol=2e-15)
    assert gn.activations.erf(np.float32([0.5])).dtype == np.float32


def test_dense_with_gelu_caches_its_input_for_backward(rng, float64):
    """gelu(z) takes the same value at two z < 0, so Dense must keep z (not a) for the derivative."""
    layer = gn.layers.Dense(4, activation="gelu")
    report = check_layer(layer, rng.normal(size=(6, 3)) * 3)
    assert report.passed, report
    assert gn.activations.get({"class_name": "GELU", "config": {"approximate": "tanh"}}).approximate == "tanh"


@pytest.mark.parametrize("approximate", ["none", "tanh"])
def test_gelu_saves_its_slope_and_writes_in_place_only_when_asked(approximate, rng):
    act = gn.activations.GELU(approximate)
    z = (rng.normal(size=(6, 50)) * 3).astype(np.float32)
    g = rng.normal(size=z.shape).astype(np.float32)
    expected_a, expected_grad = act.forward(z.copy()), act.backward(g, z)
    z_before = z.copy()
    a, saved = act.forward_saving(z)
    np.testing.assert_array_equal(z, z_before)
    assert isinstance(saved, gn.activations.Slope) and saved.da_dz.dtype == np.float32
    a2, saved2 = act.forward_saving(z, inplace=True)
    assert a2 is z
    for got_a, got_saved in ((a, saved), (a2, saved2)):
        np.testing.assert_allclose(got_a, expected_a, rtol=1e-5, atol=1e-6)
        out = np.full_like(g, np.nan)
        assert act.backward_into(g, got_saved, out) is out
        np.testing.assert_allclose(out, expected_grad, rtol=1e-4, atol=1e-5)
        np.testing.assert_allclose(act.backward(g, got_saved), expected_grad, rtol=1e-4, atol=1e-5)
    a_t, saved_t = act.forward_saving(z_before.T, inplace=True)  # a strided view: computed on a C-order copy
    np.testing.assert_allclose(a_t, expected_a.T, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(act.backward(g.T, saved_t), expected_grad.T, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("act", [gn.activations.GELU(), gn.activations.GELU("tanh"), gn.activations.Swish()])
def test_forward_saving_gives_the_same_values_and_derivative_as_from_the_input(act, rng, float64):
    z = rng.normal(size=(5, 7)) * 3
    g = rng.normal(size=z.shape)
    a, saved = act.forward_saving(z)
    np.testing.assert_allclose(a, act.forward(z), rtol=1e-14, atol=1e-15)
    np.testing.assert_allclose(act.backward(g, saved), act.backward(g, z), rtol=1e-13, atol=1e-15)
