"""PositionalEmbedding, SinusoidalPositionalEncoding and PatchEmbedding: formulas, gradient checks, shapes."""

from __future__ import annotations

import numpy as np
import pytest

import glassnet as gn
from glassnet.diagnostics import check_layer
from glassnet.errors import ShapeError

L = gn.layers


def test_positional_embedding_adds_rows_and_passes_gradient_check(rng, float64):
    layer = L.PositionalEmbedding(sequence_length=6, output_dim=3)
    x = rng.normal(size=(2, 4, 3))  # shorter than the table
    y = layer.forward(x, training=True)
    np.testing.assert_allclose(y, x + layer.embeddings.value[:4])
    report = check_layer(layer, x)
    assert report.passed, report
    layer.forward(x, training=True)
    layer.backward(np.ones_like(x))
    np.testing.assert_array_equal(layer.embeddings.grad[4:], 0.0)  # unused positions get no gradient
    np.testing.assert_allclose(layer.embeddings.grad[:4], 2.0)
    with pytest.raises(ShapeError, match="positions"):
        layer.forward(rng.normal(size=(1, 7, 3)))
    with pytest.raises(ShapeError, match="output_dim"):
        L.PositionalEmbedding(6, 4).forward(x)


def test_sinusoidal_encoding_is_the_vaswani_formula(rng, float64):
    layer = L.SinusoidalPositionalEncoding(max_length=10)
    x = rng.normal(size=(2, 5, 6))
    pe = layer.forward(x) - x
    t, i = 3, 2  # dimensions 2i = 4 and 2i + 1 = 5
    np.testing.assert_allclose(pe[0, t, 2 * i], np.sin(t / 10000 ** (2 * i / 6)), rtol=1e-12)
    np.testing.assert_allclose(pe[1, t, 2 * i + 1], np.cos(t / 10000 ** (2 * i / 6)), rtol=1e-12)
    np.testing.assert_allclose(pe[0, 0], [0, 1, 0, 1, 0, 1], atol=1e-15)
    assert check_layer(layer, x).passed
    assert layer.forward(x.astype(np.float32)).dtype == np.float32
    with pytest.raises(ShapeError, match="max_length"):
        layer.forward(rng.normal(size=(1, 11, 6)))
    odd = L.SinusoidalPositionalEncoding().forward(np.zeros((1, 40, 5)))  # any length, odd width
    np.testing.assert_allclose(odd[0, 39, 4], np.sin(39 / 10000 ** (4 / 5)), rtol=1e-12)


def test_patch_embedding_is_a_strided_convolution_and_passes_gradient_check(rng, float64):
    layer = L.PatchEmbedding(patch_size=2, output_dim=3)
    x = rng.normal(size=(2, 4, 6, 2))
    y = layer.forward(x)
    assert y.shape == (2, 6, 3)
    kernel, bias = layer.kernel.value, layer.bias.value
    layer.bias.value = rng.normal(size=3)
    bias = layer.bias.value
    y = layer.forward(x)
    for i in range(2):  # the formula written out: patch (i, j) is token i * 3 + j
        for j in range(3):
            patch = x[:, 2 * i:2 * i + 2, 2 * j:2 * j + 2, :]
            np.testing.assert_allclose(y[:, 3 * i + j], np.einsum("bpqc,pqcd->bd", patch, kernel) + bias, rtol=1e-12)
    report = check_layer(layer, x)
    assert report.passed, report
    assert layer.get_config()["patch_size"] == [2, 2]
    assert L.deserialize_layer(L.serialize_layer(layer)).get_config() == layer.get_config()
    with pytest.raises(ShapeError, match="multiple of the patch size"):
        L.PatchEmbedding(4, 3).forward(x)


def test_patch_embedding_matches_torch_conv2d(rng, float64, torch):
    layer = L.PatchEmbedding(patch_size=(2, 3), output_dim=4)
    x = rng.normal(size=(2, 4, 6, 3))
    y = layer.forward(x, training=True)
    g = rng.normal(size=y.shape)
    grad_x = layer.backward(g)
    conv = torch.nn.Conv2d(3, 4, kernel_size=(2, 3), stride=(2, 3))
    with torch.no_grad():  # Keras/our kernel (p_h, p_w, C, D) -> PyTorch (D, C, p_h, p_w)
        conv.weight.copy_(torch.tensor(layer.kernel.value.transpose(3, 2, 0, 1)))
        conv.bias.copy_(torch.tensor(layer.bias.value))
    xt = torch.tensor(x.transpose(0, 3, 1, 2), requires_grad=True)  # NHWC -> NCHW
    yt = conv(xt).flatten(2).transpose(1, 2)  # (B, D, gh, gw) -> (B, gh gw, D), row-major patches
    yt.backward(torch.tensor(g))
    np.testing.assert_allclose(y, yt.detach().numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(grad_x, xt.grad.numpy().transpose(0, 2, 3, 1), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(layer.kernel.grad, conv.weight.grad.numpy().transpose(2, 3, 1, 0), rtol=1e-10)
