"""Padding masks from ``Embedding(mask_zero=True)`` reach the Transformer layers in a Sequential (issue 14):
positions pass them on, the blocks mask their attention as Keras does, GlobalAveragePooling1D averages the
real steps only."""

from __future__ import annotations

import numpy as np
import pytest

import glassnet as gn
from glassnet.diagnostics import gradient_check
from glassnet.layers.masking import forward_layers

L = gn.layers


def _classifier(block: type = L.TransformerEncoderBlock) -> gn.Sequential:
    gn.set_seed(0)
    model = gn.Sequential(
        [
            L.Input(shape=(6,)),
            L.Embedding(10, 8, mask_zero=True),
            L.PositionalEmbedding(6, 8),
            block(2, 4, 16),
            L.LayerNormalization(epsilon=1e-5),
            L.GlobalAveragePooling1D(),
            L.Dense(3, activation="softmax"),
        ]
    )
    model.build((6,))
    return model


TOKENS = np.array([[3, 1, 4, 1, 0, 0], [5, 9, 2, 6, 0, 0], [7, 7, 8, 2, 0, 0]])


@pytest.mark.parametrize("block", [L.TransformerEncoderBlock, L.TransformerDecoderBlock])
def test_padding_changes_nothing_for_the_real_tokens(block, float64):
    model = _classifier(block)
    padded = model.predict(TOKENS)
    short = forward_layers(model.layers, TOKENS[:, :4])  # the same layers on the unpadded sequences
    np.testing.assert_allclose(padded, short, rtol=1e-12, atol=1e-14)
    # without the mask the padding would leak into the attention and the mean
    plain = _classifier(block)
    plain.layers[0].mask_zero = False
    assert np.max(np.abs(plain.predict(TOKENS) - padded)) > 1e-4


def test_the_block_turns_a_padding_mask_into_the_keras_attention_mask(float64):
    rng = np.random.default_rng(1)
    block = L.TransformerEncoderBlock(2, 3, 8)
    x = rng.normal(size=(2, 5, 6))
    m = np.array([[1, 1, 1, 0, 0], [1, 1, 1, 1, 1]], dtype=bool)
    np.testing.assert_allclose(
        block.forward(x, mask=m), block.forward(x, attention_mask=m[:, :, None] & m[:, None, :]), rtol=0, atol=0
    )
    p = block.self_attention.last_attention_scores
    assert np.all(p[0, :, 3:] == 0) and np.all(p[0, :, :3, 3:] == 0)  # padded queries and keys
    np.testing.assert_allclose(p[0, :, :3, :3].sum(axis=-1), 1.0)
    decoder = L.TransformerDecoderBlock(2, 3, 8)
    y = decoder.forward(x, mask=m)
    np.testing.assert_allclose(y, decoder.forward(x, self_attention_mask=m[:, :, None] & m[:, None, :]))
    assert decoder.compute_mask(x, m) is m and block.compute_mask(x, m) is m


def test_masked_global_average_pooling_is_the_mean_of_the_real_steps():
    rng = np.random.default_rng(2)
    pool = L.GlobalAveragePooling1D()
    x = rng.normal(size=(3, 4, 2))
    m = np.array([[1, 1, 0, 0], [1, 1, 1, 1], [0, 0, 0, 0]], dtype=bool)
    y = pool.forward(x, training=True, mask=m)
    np.testing.assert_allclose(y[0], x[0, :2].mean(axis=0))
    np.testing.assert_allclose(y[1], x[1].mean(axis=0))
    np.testing.assert_array_equal(y[2], 0.0)  # nothing real: zero, not NaN
    g = rng.normal(size=(3, 2))
    grad = pool.backward(g)  # y is linear in x: dL/dx[n, t] = m[n, t] g[n] / max(sum_t m[n, t], 1)
    expected = m[:, :, None] * g[:, None, :] / np.maximum(m.sum(axis=1), 1)[:, None, None]
    np.testing.assert_allclose(grad, expected)
    assert pool.compute_mask(x, m) is None
    with pytest.raises(gn.ShapeError, match="mask must have shape"):
        pool.forward(x, mask=m[:, :3])


@pytest.mark.parametrize("block", [L.TransformerEncoderBlock, L.TransformerDecoderBlock])
def test_a_masked_model_passes_the_gradient_check(block, float64):
    model = _classifier(block)
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    report = gradient_check(model, TOKENS, np.array([0, 1, 2]))
    key_bias = [name for name in report.errors if name.endswith("self_attention/key/bias")]
    assert len(key_bias) == 1  # its gradient is exactly 0 (a softmax ignores a constant row shift)
    del report.errors[key_bias[0]]
    assert report.passed and len(report.errors) == len(model.parameters()) - 1, report
    model.forward(TOKENS, training=True)
    model.backward(np.random.default_rng(3).normal(size=(3, 3)))
    grad = model.layers[0].embeddings.grad
    np.testing.assert_array_equal(grad[0], 0.0)  # the padding id reaches no real output
    assert np.all(np.abs(grad[[1, 2, 3, 4]]).sum(axis=1) > 0)
