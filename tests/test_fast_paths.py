"""The speed work must not change results: buffers reused across batches (evaluate/predict), in-place
activation gradients, the skipped first-layer input gradient and the fast finiteness check (issue 7)."""

from __future__ import annotations

import contextlib

import numpy as np
import pytest

import glassnet as gn
from glassnet import activations
from glassnet.layers import Dense, Input
from glassnet.layers.workspace import Workspace
from glassnet.models.training import check_finite


def _mlp(seed: int = 0, dtype: str = "float32") -> gn.Sequential:
    gn.set_floatx(dtype)
    gn.set_seed(seed)
    model = gn.Sequential(
        [Input(shape=(6,)), Dense(8, activation="relu"), Dense(5, activation="tanh"), Dense(3, activation="softmax")]
    )
    model.compile(optimizer=gn.optimizers.SGD(0.1, momentum=0.9), loss="sparse_categorical_crossentropy")
    return model


def _data(rng: np.random.Generator, n: int = 50) -> tuple[np.ndarray, np.ndarray]:
    return rng.normal(size=(n, 6)).astype(np.float32), rng.integers(0, 3, size=n)


def test_a_dense_layer_used_by_hand_never_overwrites_an_earlier_output(rng):
    layer = Dense(4, activation="relu")
    a, b = rng.normal(size=(3, 2)), rng.normal(size=(3, 2))
    y1 = layer.forward(a)
    kept = y1.copy()
    y2 = layer.forward(b)
    assert y1 is not y2 and not np.shares_memory(y1, y2)
    np.testing.assert_array_equal(y1, kept)


def test_inside_a_workspace_the_output_buffer_is_reused_and_released_afterwards(rng):
    model = _mlp()
    x, _ = _data(rng, 4)
    with model.workspaces():
        y1 = model.layers[0].forward(x)
        y2 = model.layers[0].forward(x[::-1].copy())
        assert np.shares_memory(y1, y2)  # the point of a workspace: one buffer across batches
    assert all(layer.workspace is None for layer in model.layers)
    assert not np.shares_memory(model.layers[0].forward(x), model.layers[0].forward(x))


def test_evaluate_with_reused_buffers_matches_evaluate_allocating_every_array(rng, monkeypatch):
    x, y = _data(rng, 70)  # 70 = 4 full batches of 16 and a partial one of 6
    model = _mlp(seed=3)
    model.fit(x, y, epochs=1, batch_size=16, verbose=0, seed=5)
    with monkeypatch.context() as m:
        m.setattr(gn.Model, "workspaces", lambda self: contextlib.nullcontext())
        expected = model.evaluate(x, y, batch_size=16)
    assert model.evaluate(x, y, batch_size=16) == expected
    assert all(layer.workspace is None for layer in model.layers)


def test_batched_predict_returns_fresh_arrays_equal_to_one_forward_pass(rng):
    model = _mlp()
    x1, _ = _data(rng, 9)
    x2, _ = _data(rng, 9)
    p1 = model.predict(x1, batch_size=4)
    kept = p1.copy()
    p2 = model.predict(x2, batch_size=4)
    np.testing.assert_array_equal(p1, kept)
    assert not np.shares_memory(p1, p2)
    np.testing.assert_allclose(p1, model.forward(x1), rtol=1e-6, atol=1e-7)


def test_float64_models_train_in_float64_with_buffers(rng, float64):
    model = _mlp(dtype="float64")
    x, y = _data(rng, 20)
    model.fit(x.astype(np.float64), y, epochs=1, batch_size=8, verbose=0, seed=1)
    assert all(p.dtype == np.float64 for p in model.parameters())
    assert model.predict(x.astype(np.float64), batch_size=8).dtype == np.float64


def test_dense_on_3d_inputs_inside_a_workspace_falls_back_to_fresh_arrays(rng):
    layer = Dense(3, activation="relu")
    x = rng.normal(size=(2, 4, 5)).astype(np.float32)
    layer.build((4, 5))
    expected = np.maximum(x @ layer.kernel.value + layer.bias.value, 0)
    layer.workspace = Workspace()
    try:
        y = layer.forward(x, training=True)
        grad_x = layer.backward(np.ones_like(y))
    finally:
        layer.workspace = None
    np.testing.assert_allclose(y, expected, rtol=1e-6)
    np.testing.assert_allclose(grad_x, (expected > 0).astype(np.float32) @ layer.kernel.value.T, rtol=1e-6)


@pytest.mark.parametrize("name", ["linear", "relu", "sigmoid", "tanh", "elu", "softmax"])
def test_backward_into_equals_backward_and_leaves_its_inputs_alone(rng, name):
    act = activations.get(name)
    z = rng.normal(size=(5, 4)).astype(np.float32)
    a = act.forward(z.copy())
    g = rng.normal(size=(5, 4)).astype(np.float32)
    g_before, a_before = g.copy(), a.copy()
    expected = act.backward(g, a)
    out = np.full_like(g, np.nan)
    got = act.backward_into(g, a, out)
    np.testing.assert_allclose(got, expected, rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(act.backward_into(g, a, None), expected, rtol=1e-6, atol=1e-7)
    np.testing.assert_array_equal(g, g_before)
    np.testing.assert_array_equal(a, a_before)
    assert got.dtype == np.float32


def test_fit_skips_the_first_layer_input_gradient_but_backward_by_hand_returns_it(rng):
    model = _mlp()
    x, y = _data(rng, 8)
    calls = []
    first = model.layers[0]
    original = first.backward_preactivation

    def spy(grad_z):
        calls.append(first.input_grad_required)
        return original(grad_z)

    first.backward_preactivation = spy
    model.fit(x, y, epochs=1, batch_size=8, verbose=0)
    assert calls == [False]
    assert first.input_grad_required is True
    out = model.forward(x, training=True)
    grad_x = model.backward(np.ones_like(out))
    assert grad_x is not None and grad_x.shape == x.shape


def test_fast_finiteness_check_finds_nan_and_inf_and_ignores_overflowing_sums():
    x = np.ones((6, 4), dtype=np.float32)
    check_finite("x", x)
    check_finite("x", np.full((4, 3), 3e38, dtype=np.float32))  # the sum overflows, the data are finite
    check_finite("x", x[:, ::2])
    for bad in (np.nan, np.inf, -np.inf):
        y = x.copy()
        y[3, 1] = bad
        with pytest.raises(gn.NonFiniteError, match="first in sample 3"):
            check_finite("x", y)
    z = np.full((4, 3), 3e38, dtype=np.float32)
    z[2, 0] = np.nan
    with pytest.raises(gn.NonFiniteError, match="first in sample 2"):
        check_finite("x", z)


@pytest.mark.parametrize("name", ["sgd", "adam", "adamw", "nadam", "rmsprop", "adagrad"])
def test_elementwise_optimizers_give_the_same_update_block_by_block(rng, name):
    from glassnet.parameter import Parameter, ParameterPack

    def make(block_size: int) -> tuple[gn.optimizers.Optimizer, list[Parameter]]:
        params = [Parameter(np.zeros((30, 40), np.float32), name="a"), Parameter(np.zeros(1234, np.float32), name="b")]
        ParameterPack(params)
        opt = gn.optimizers.SGD(0.01, momentum=0.9) if name == "sgd" else gn.optimizers.get(name)
        opt.block_size = block_size
        return opt, params

    whole, p_whole = make(1 << 20)
    blocked, p_blocked = make(100)  # 2434 coordinates > 4 blocks: runs in 25 blocks, the last one partial
    assert blocked.elementwise
    for _ in range(3):
        grads = [rng.normal(size=p.shape).astype(np.float32) for p in p_whole]
        for params, opt in ((p_whole, whole), (p_blocked, blocked)):
            for p, g in zip(params, grads):
                p.grad[...] = g
            opt.step(params)
    for a, b in zip(p_whole, p_blocked):
        np.testing.assert_array_equal(a.value, b.value)
    state_whole, state_blocked = whole.get_state(), blocked.get_state()
    assert state_whole.keys() == state_blocked.keys()
    for key in state_whole:
        np.testing.assert_array_equal(state_whole[key], state_blocked[key])


def test_fit_uses_fresh_arrays_and_evaluate_reuses_buffers(rng, monkeypatch):
    x, y = _data(rng, 40)
    seen: list[bool] = []
    original = Dense.forward

    def spy(self, x, training=False):
        seen.append(self.workspace is not None)
        return original(self, x, training)

    monkeypatch.setattr(Dense, "forward", spy)
    model = _mlp()
    model.fit(x, y, epochs=1, batch_size=16, verbose=0, seed=0)
    assert seen and not any(seen)
    assert not hasattr(gn.Model, "reuse_buffers_in_fit")  # the switch and its code path are gone
    seen.clear()
    model.evaluate(x, y, batch_size=16)
    assert seen and all(seen)


@pytest.mark.parametrize("shape", [(3, 5), (100, 50)])  # a full zero array, then a zero row
def test_relu_against_its_cached_zeros_equals_the_maximum_with_zero(rng, shape):
    act = activations.get("relu")
    z = rng.normal(size=shape).astype(np.float32)
    z[0, :2] = [np.nan, -np.inf]
    expected = np.maximum(z, 0)
    np.testing.assert_array_equal(act.forward(z.copy()), expected)
    inplace = z.copy()
    assert act.forward(inplace, inplace=True) is inplace
    np.testing.assert_array_equal(inplace, expected)
    np.testing.assert_array_equal(act.forward(z[:2].copy()), expected[:2])  # a second shape
    assert len(act._zero_arrays) <= 2 and not any(zeros.any() for zeros in act._zero_arrays.values())


@pytest.mark.parametrize("shape", [(1, 10), (128, 10), (4, 8, 10), (40, 64), (40, 65), (0, 10)])
def test_softmax_row_maximum_equals_numpys_maximum_along_the_last_axis(rng, shape):
    z = rng.normal(size=shape).astype(np.float32)
    if z.size:
        z.flat[3] = np.nan
    got = activations._row_max(z)
    want = z.max(axis=-1, keepdims=True)
    assert got.shape == want.shape and got.dtype == want.dtype
    np.testing.assert_array_equal(got, want)
