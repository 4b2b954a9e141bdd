"""Embedding: PyTorch parity, scatter-add gradient, integer inputs kept integer, id range errors, and masks
(mask_zero) carried through a Sequential model to the recurrent layers."""

from __future__ import annotations

import numpy as np
import pytest

import glassnet as gn
from glassnet.diagnostics.gradcheck import check_layer
from glassnet.layers import GRU, LSTM, Dense, Embedding, SimpleRNN
from glassnet.layers.masking import forward_layers


def test_matches_torch_embedding_forward_and_gradient(float64, torch, rng):
    layer = Embedding(7, 4)
    ids = np.array([[1, 3, 3, 0], [6, 1, 1, 1]])  # repeated ids: their gradients add up
    y = layer.forward(ids, training=True)
    grad = rng.normal(size=y.shape)
    assert layer.backward(grad) is None  # ids carry no gradient
    theirs = torch.nn.Embedding(7, 4)
    with torch.no_grad():
        theirs.weight.copy_(torch.tensor(layer.embeddings.value))
    yt = theirs(torch.tensor(ids))
    yt.backward(torch.tensor(grad))
    np.testing.assert_allclose(y, yt.detach().numpy(), rtol=1e-12)
    np.testing.assert_allclose(layer.embeddings.grad, theirs.weight.grad.numpy(), rtol=1e-10, atol=1e-12)


def test_gradient_check_and_default_initializer(float64, rng):
    layer = Embedding(5, 3)
    x = rng.integers(0, 5, size=(3, 4))
    report = check_layer(layer, x)
    assert report.max_relative_error < 1e-6, report
    assert np.abs(layer.embeddings.value).max() <= 0.05  # Keras "uniform": U(-0.05, 0.05)


def test_integer_ids_reach_the_layer_uncast_and_float32_stays_float32(rng):
    seen = []

    class Spy(Embedding):
        def forward(self, x, training=False):
            seen.append(x.dtype)
            return super().forward(x, training)

    model = gn.Sequential([Spy(20, 4), LSTM(3), Dense(2, activation="softmax")])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    x = rng.integers(0, 20, size=(16, 5))
    model.fit(x, rng.integers(0, 2, size=16), epochs=1, batch_size=8, verbose=0)
    assert model.predict(x).dtype == np.float32
    assert seen and all(np.issubdtype(d, np.integer) for d in seen)
    assert model.layers[0].embeddings.dtype == np.float32


def test_ids_out_of_range_name_the_layer_value_and_input_dim():
    layer = Embedding(10, 2, name="tokens")
    with pytest.raises(gn.errors.ShapeError, match=r"'tokens'.*token id 10.*input_dim=10"):
        layer.forward(np.array([[1, 10]]))
    with pytest.raises(gn.errors.ShapeError, match=r"token id -1"):
        layer.forward(np.array([[-1, 2]]))
    with pytest.raises(gn.errors.ShapeError, match="integer token ids"):
        layer.forward(np.array([[0.5, 2.0]]))


def test_config_round_trip_and_any_sequence_length(rng):
    layer = Embedding(6, 3, mask_zero=True, name="emb")
    clone = gn.layers.deserialize_layer(gn.layers.serialize_layer(layer))
    assert clone.get_config() == layer.get_config()
    layer.forward(np.zeros((2, 4), dtype=int))
    assert layer.forward(np.ones((3, 9), dtype=int)).shape == (3, 9, 3)


# -- masks through a model ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("recurrent", [SimpleRNN, LSTM, GRU])
def test_mask_zero_makes_the_model_skip_padding(float64, rng, recurrent):
    """Post-padded batch == each sequence alone on its real length; padded ids' rows get no gradient."""
    lengths = [6, 3, 1, 4]
    ids = np.zeros((4, 6), dtype=int)
    for i, n in enumerate(lengths):
        ids[i, :n] = rng.integers(1, 9, size=n)
    model = gn.Sequential([Embedding(9, 3, mask_zero=True), Dense(3, activation="tanh"),  # Dense passes the mask
                           recurrent(4, return_sequences=True), recurrent(2)])
    model.compile(optimizer="sgd", loss="mse")
    y = model.predict(ids)
    for i, n in enumerate(lengths):
        np.testing.assert_allclose(y[i], forward_layers(model.layers, ids[i : i + 1, :n])[0], rtol=1e-12, atol=1e-14)
    out = model.forward(ids, training=True)
    model.backward(np.ones_like(out))
    np.testing.assert_allclose(model.layers[0].embeddings.grad[0], 0.0)  # the padding id is never used
    assert np.abs(model.layers[0].embeddings.grad[1:]).sum() > 0


def test_a_mask_reaching_a_layer_that_cannot_use_it_is_an_error(rng):
    ids = rng.integers(0, 5, size=(2, 4))
    model = gn.Sequential([Embedding(5, 3, mask_zero=True), gn.layers.GlobalMaxPooling1D(), gn.layers.Dense(2)])
    with pytest.raises(gn.errors.ShapeError, match=r"'global_max_pooling1d'.*received a mask.*cannot use it"):
        model.predict(ids)
    fine = gn.Sequential([Embedding(5, 3, mask_zero=True), LSTM(2), gn.layers.LayerNormalization()])
    assert fine.predict(ids).shape == (2, 2)  # LSTM(return_sequences=False) consumed the mask
