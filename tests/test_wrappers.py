"""Bidirectional and TimeDistributed: PyTorch parity (bidirectional=True), gradient checks of every merge
mode, states and masks, TimeDistributed as one reshaped call, configs and saved models."""

from __future__ import annotations

import numpy as np
import pytest

import glassnet as gn
from glassnet.diagnostics.gradcheck import check_layer
from glassnet.layers import GRU, LSTM, Bidirectional, Dense, SimpleRNN, TimeDistributed
from tests.test_recurrent import _close, _Flat, _torch_twin


def _randomize(layer, rng):
    for p in layer.parameters():
        p.value = rng.normal(0.0, 0.6, size=p.shape)


@pytest.mark.parametrize("cls", [SimpleRNN, LSTM, GRU])
@pytest.mark.parametrize("return_sequences", [True, False])
def test_matches_torch_bidirectional(float64, torch, rng, cls, return_sequences):
    features, u, batch, steps = 3, 4, 2, 5
    layer = Bidirectional(cls(u, return_sequences=return_sequences))
    layer.build((steps, features))
    _randomize(layer, rng)
    x = rng.normal(size=(batch, steps, features))
    y = layer.forward(x, training=True)
    grad = rng.normal(size=y.shape)
    grad_x = layer.backward(grad)
    net, order = _torch_twin(torch, layer.forward_layer, features, bidirectional=True,
                             backward_layer=layer.backward_layer)
    xt = torch.tensor(x, requires_grad=True)
    seq, _ = net(xt)
    # Keras's final output: the forward direction after x_T, the backward one after x_1
    theirs = seq if return_sequences else torch.cat([seq[:, -1, :u], seq[:, 0, u:]], dim=1)
    _close(y, theirs.detach().numpy())
    (theirs * torch.tensor(grad)).sum().backward()
    _close(grad_x, xt.grad.numpy())
    for inner, suffix in ((layer.forward_layer, "_l0"), (layer.backward_layer, "_l0_reverse")):
        _close(order(inner.kernel.grad).T, getattr(net, "weight_ih" + suffix).grad.numpy())
        _close(order(inner.recurrent_kernel.grad).T, getattr(net, "weight_hh" + suffix).grad.numpy())


@pytest.mark.parametrize("merge_mode", ["concat", "sum", "mul", "ave", None])
def test_gradient_check_every_merge_mode(float64, rng, merge_mode):
    layer = Bidirectional(GRU(3, return_sequences=True), merge_mode=merge_mode)
    layer.build((4, 2))
    _randomize(layer, rng)
    x = rng.normal(size=(2, 4, 2))
    report = check_layer(_Flat(layer) if merge_mode is None else layer, x)
    assert report.max_relative_error < 1e-6, report


def test_gradient_check_with_states_and_a_mask(float64, rng):
    layer = Bidirectional(LSTM(2, return_sequences=True, return_state=True))
    layer.build((4, 3))
    _randomize(layer, rng)
    x = rng.normal(size=(3, 4, 3))
    states = [rng.normal(size=(3, 2)) for _ in range(4)]
    mask = np.array([[1, 1, 1, 1], [1, 1, 1, 0], [1, 0, 0, 0]], dtype=bool)
    out = layer.forward([x, *states], mask=mask)
    assert [o.shape for o in out] == [(3, 4, 4)] + [(3, 2)] * 4
    np.testing.assert_array_equal(out[0][2, 1:], 0.0)  # masked steps output zeros in a Bidirectional (Keras)
    report = check_layer(_Flat(layer, mask), [x, *states])
    assert report.max_relative_error < 1e-6, report


def test_backward_copy_has_go_backwards_and_its_own_weights(rng):
    layer = Bidirectional(LSTM(3, go_backwards=False))
    layer.build((5, 2))
    assert layer.backward_layer.go_backwards and not layer.forward_layer.go_backwards
    assert len(layer.get_weights()) == 6
    assert not np.array_equal(layer.forward_layer.kernel.value, layer.backward_layer.kernel.value)
    with pytest.raises(gn.errors.ConfigError, match="merge_mode"):
        Bidirectional(LSTM(3), merge_mode="max")
    with pytest.raises(gn.errors.ConfigError, match="recurrent layer"):
        Bidirectional(Dense(3))


def test_time_distributed_dense_is_dense_on_every_step(float64, rng):
    inner = Dense(3, activation="tanh")
    layer = TimeDistributed(inner)
    x = rng.normal(size=(2, 5, 4))
    y = layer.forward(x)
    _close(y, np.tanh(x @ inner.kernel.value + inner.bias.value))
    report = check_layer(layer, x)
    assert report.max_relative_error < 1e-6, report


def test_time_distributed_recurrent_layer_over_a_second_time_axis(float64, rng):
    layer = TimeDistributed(SimpleRNN(2))  # (batch, outer steps, inner steps, features)
    x = rng.normal(size=(2, 3, 4, 2))
    assert layer.forward(x).shape == (2, 3, 2)
    report = check_layer(layer, x)
    assert report.max_relative_error < 1e-6, report


def test_model_with_wrappers_saves_loads_and_round_trips(tmp_path, rng):
    model = gn.Sequential([gn.layers.Input(shape=(6, 3)), Bidirectional(LSTM(4, return_sequences=True), "sum"),
                           TimeDistributed(Dense(2)), Bidirectional(GRU(3)), Dense(2, activation="softmax")])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    x = rng.normal(size=(8, 6, 3)).astype(np.float32)
    model.fit(x, rng.integers(0, 2, size=8), epochs=1, verbose=0)
    path = tmp_path / "m.glassnet"
    model.save(path)
    loaded = gn.load_model(path)
    np.testing.assert_allclose(loaded.predict(x), model.predict(x), rtol=1e-6)
    assert [p.name for p in loaded.parameters()] == [p.name for p in model.parameters()]
    clone = gn.Sequential.from_config(model.get_config())
    assert clone.get_config() == model.get_config()
