"""Masks through Functional graphs: the same padded batch gives the same outputs and gradients as the
Sequential model of the same layers, masked steps change nothing, and unusable masks are refused."""

from __future__ import annotations

import numpy as np
import pytest

import glassnet as gn
from glassnet.errors import ShapeError
from glassnet.layers import GRU, LSTM, Bidirectional, Concatenate, Dense, Embedding, Flatten, Input


def _padded(rng: np.random.Generator) -> np.ndarray:
    """Token ids (4, 6) with trailing zeros (padding) of different lengths."""
    ids = rng.integers(1, 9, size=(4, 6))
    for row, length in enumerate((6, 4, 2, 5)):
        ids[row, length:] = 0
    return ids


def _copy_weights(source: gn.Model, target: gn.Model) -> None:
    for p, q in zip(source.parameters(), target.parameters(), strict=True):
        q.value = p.value.copy()


@pytest.mark.parametrize("make", [
    lambda: [Embedding(9, 5, mask_zero=True), LSTM(4, return_sequences=True), GRU(3)],
    lambda: [Embedding(9, 5, mask_zero=True), Bidirectional(LSTM(3, return_sequences=True)), Dense(2), LSTM(3)],
])
def test_a_graph_passes_masks_like_sequential(float64, rng, make):
    ids = _padded(rng)
    seq = gn.Sequential([Input(shape=(6,)), *make()])
    x_in = Input(shape=(6,))
    h = x_in
    for layer in make():
        h = layer(h)
    graph = gn.Model(inputs=x_in, outputs=h)
    _copy_weights(seq, graph)
    g = rng.normal(size=seq.forward(ids, training=True).shape)
    y_graph = graph.forward(ids, training=True)
    np.testing.assert_allclose(y_graph, seq.forward(ids, training=True), rtol=1e-12, atol=1e-12)
    seq.backward(g)
    graph.backward(g)
    for p, q in zip(seq.parameters(), graph.parameters(), strict=True):
        np.testing.assert_allclose(q.grad, p.grad, rtol=1e-12, atol=1e-12)


def test_padding_does_not_change_a_graph_models_output(float64, rng):
    x_in = Input(shape=(6,))
    model = gn.Model(inputs=x_in, outputs=Dense(2)(LSTM(4)(Embedding(9, 5, mask_zero=True)(x_in))))
    ids = _padded(rng)
    longer = np.concatenate([ids, np.zeros((4, 3), ids.dtype)], axis=1)  # more padding at the end
    x_in2 = Input(shape=(9,))
    model2 = gn.Model(inputs=x_in2, outputs=Dense(2)(LSTM(4)(Embedding(9, 5, mask_zero=True)(x_in2))))
    _copy_weights(model, model2)
    np.testing.assert_allclose(model2.predict(longer), model.predict(ids), rtol=1e-12, atol=1e-12)
    no_mask = gn.Model(inputs=x_in, outputs=Dense(2)(LSTM(4)(Embedding(9, 5)(x_in))))
    _copy_weights(model, no_mask)
    assert not np.allclose(no_mask.predict(ids), model.predict(ids))  # the mask is really used


def test_a_layer_that_cannot_use_a_mask_is_refused_in_a_graph(rng):
    x_in = Input(shape=(6,))
    model = gn.Model(inputs=x_in, outputs=Dense(1)(Flatten()(Embedding(9, 5, mask_zero=True)(x_in))))
    with pytest.raises(ShapeError, match="received a mask"):
        model.predict(_padded(rng))
    a, b = Input(shape=(6,)), Input(shape=(6,))
    merged = Concatenate()([LSTM(3, return_sequences=True)(Embedding(9, 5, mask_zero=True)(a)),
                            LSTM(3, return_sequences=True)(Embedding(9, 5)(b))])
    with pytest.raises(ShapeError, match="received a mask"):
        gn.Model(inputs=[a, b], outputs=LSTM(2)(merged)).predict([_padded(rng), _padded(rng)])
