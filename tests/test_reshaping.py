"""Flatten, Reshape, Permute, RepeatVector and UpSampling2D, ZeroPadding2D, SpatialDropout2D."""

from __future__ import annotations

import numpy as np
import pytest

import glassnet as gn
from glassnet.diagnostics import check_layer

L = gn.layers


@pytest.mark.parametrize("make,shape", [
    (lambda: L.Flatten(), (2, 3, 4, 2)),
    (lambda: L.Reshape((-1, 4)), (2, 3, 4, 2)),
    (lambda: L.Permute((3, 1, 2)), (2, 3, 4, 2)),
    (lambda: L.RepeatVector(3), (2, 5)),
    (lambda: L.UpSampling2D((2, 3)), (2, 3, 2, 2)),
    (lambda: L.ZeroPadding2D(((1, 0), (2, 1))), (2, 3, 2, 2)),
])
def test_layers_pass_gradient_check(make, shape, rng, float64):
    report = check_layer(make(), rng.normal(size=shape))
    assert report.passed and set(report.errors) == {"input"}, report


def test_values_and_shapes_follow_keras(rng):
    x = rng.normal(size=(2, 3, 4, 5))
    flat = L.Flatten()
    np.testing.assert_array_equal(flat.forward(x), x.reshape(2, 60))
    assert flat.output_shape == (60,)
    reshape = L.Reshape((4, -1))
    np.testing.assert_array_equal(reshape.forward(x), x.reshape(2, 4, 15))
    assert reshape.output_shape == (4, 15)
    permute = L.Permute((2, 1, 3))  # 1-based, batch untouched
    np.testing.assert_array_equal(permute.forward(x), x.transpose(0, 2, 1, 3))
    assert permute.output_shape == (4, 3, 5)
    repeat = L.RepeatVector(3)
    v = rng.normal(size=(2, 5))
    np.testing.assert_array_equal(repeat.forward(v), np.stack([v, v, v], axis=1))
    assert repeat.output_shape == (3, 5)
    up = L.UpSampling2D(2)
    np.testing.assert_array_equal(up.forward(x), x.repeat(2, axis=1).repeat(2, axis=2))
    assert up.output_shape == (6, 8, 5)
    for padding, expected in ((1, ((1, 1), (1, 1))), ((1, 2), ((1, 1), (2, 2))), (((0, 1), (2, 3)), ((0, 1), (2, 3)))):
        pad = L.ZeroPadding2D(padding)
        np.testing.assert_array_equal(pad.forward(x), np.pad(x, ((0, 0), *expected, (0, 0))))


def test_upsampling_and_padding_match_pytorch(rng, float64, torch):
    x = rng.normal(size=(1, 3, 4, 2))
    up = L.UpSampling2D((2, 3))
    y = up.forward(x, training=True)
    g = rng.normal(size=y.shape)
    xt = torch.tensor(x.transpose(0, 3, 1, 2), requires_grad=True)
    yt = torch.nn.functional.interpolate(xt, scale_factor=(2, 3), mode="nearest")
    yt.backward(torch.tensor(g.transpose(0, 3, 1, 2)))
    np.testing.assert_allclose(y, yt.detach().numpy().transpose(0, 2, 3, 1), rtol=1e-12)
    np.testing.assert_allclose(up.backward(g), xt.grad.numpy().transpose(0, 2, 3, 1), rtol=1e-10)


def test_spatial_dropout_drops_whole_channels_seeded_and_scaled(rng):
    layer = L.SpatialDropout2D(0.5, seed=3)
    x = np.ones((64, 4, 5, 8), dtype=np.float32)
    y = layer.forward(x, training=True)
    assert y.dtype == np.float32
    per_channel = y.reshape(64, 20, 8)
    assert np.all(per_channel.min(axis=1) == per_channel.max(axis=1))  # a channel is kept or dropped whole
    assert set(np.unique(y)) == {0.0, 2.0}
    assert 0.4 < (per_channel[:, 0] == 0).mean() < 0.6
    g = rng.normal(size=y.shape).astype(np.float32)
    np.testing.assert_array_equal(layer.backward(g), g * (y / x))
    np.testing.assert_array_equal(layer.forward(x, training=False), x)
    again = L.SpatialDropout2D(0.5, seed=3)
    np.testing.assert_array_equal(again.forward(x, training=True), y)
    again.reseed(np.random.default_rng(3))
    first = again.forward(x, training=True)
    again.reseed(np.random.default_rng(3))
    np.testing.assert_array_equal(again.forward(x, training=True), first)


def test_config_round_trips(rng):
    for layer in (L.Flatten(), L.Reshape((2, -1)), L.Permute((2, 1)), L.RepeatVector(4), L.UpSampling2D((1, 2)),
                  L.ZeroPadding2D(((1, 2), (0, 3))), L.SpatialDropout2D(0.3, seed=1)):
        clone = L.deserialize_layer(L.serialize_layer(layer))
        assert type(clone) is type(layer) and clone.get_config() == layer.get_config()


def test_errors_name_the_layer_and_the_shapes():
    with pytest.raises(gn.ShapeError, match=r"'reshape' \(Reshape\) cannot reshape input \(batch, 3, 4\).*target"):
        L.Reshape((5, -1)).build((3, 4))
    with pytest.raises(gn.ConfigError, match="at most one -1"):
        L.Reshape((-1, -1))
    with pytest.raises(gn.ConfigError, match="permutation of 1..2"):
        L.Permute((0, 1))
    with pytest.raises(gn.ShapeError, match=r"RepeatVector\) expects input of shape \(batch, features\)"):
        L.RepeatVector(2).build((3, 4))
    with pytest.raises(gn.ConfigError, match="ZeroPadding2D: padding"):
        L.ZeroPadding2D(((1, 2), (3,)))
    with pytest.raises(gn.ShapeError, match=r"up_sampling2d.*\(batch, height, width, channels\)"):
        L.UpSampling2D().build((4, 4))
    with pytest.raises(gn.ShapeError, match="spatial_dropout2d"):
        L.SpatialDropout2D(0.1).build((4, 4))
