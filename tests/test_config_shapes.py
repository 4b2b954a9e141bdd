"""[data] keeps sample shapes for layers that need them (images for Conv2D, rows as steps for RNNs)."""

from __future__ import annotations

import numpy as np
import pytest

import glassnet as gn
from glassnet.app import config, runs
from glassnet.app.config_data import sample_shape


@pytest.mark.parametrize(
    ("raw", "flatten", "rank", "expected"),
    [
        ((8, 8), None, None, (64,)),  # Dense and the default model: one feature vector
        ((8, 8), None, 3, (8, 8, 1)),  # Conv2D: images with one channel
        ((28, 28), None, 2, (28, 28)),  # a recurrent layer: rows as time steps
        ((40,), None, 2, (40, 1)),  # a 1-D signal as steps of one feature
        ((8, 8), False, None, (8, 8, 1)),  # flatten = false, no declared rank: images get a channel
        ((8, 8), True, 3, (64,)),  # an explicit flatten wins
        ((4, 5, 6), None, 2, (4, 30)),
    ],
)
def test_sample_shape(raw, flatten, rank, expected):
    assert sample_shape(raw, flatten, rank) == expected


class _Rank3(gn.layers.Layer):
    """A stand-in for a convolution: declares it takes (h, w, c) samples."""

    input_rank = 3

    def compute_output_shape(self, input_shape):
        return (int(np.prod(input_shape)),)

    def forward(self, x, training=False):
        return x.reshape(len(x), -1)

    def backward(self, grad_output):
        return grad_output.reshape((len(grad_output), *self.input_shape))


@pytest.fixture
def rank3_layer(monkeypatch):
    family = gn.layers.LAYERS
    monkeypatch.setattr(family, "_classes", dict(family._classes))
    monkeypatch.setattr(family, "_aliases", dict(family._aliases))
    family.register(_Rank3)


def test_a_first_layer_with_an_input_rank_gets_images_and_the_run_config_reproduces_them(rank3_layer, tmp_path):
    raw = {
        "data": {"name": "digits", "limit": 120},
        "preprocessing": {"scaler": "standard"},
        "model": {"layers": [{"type": "_Rank3"}, {"type": "Dense", "units": 10, "activation": "softmax"}]},
        "training": {"epochs": 1},
    }
    run = runs.setup(raw)
    assert run.data.x_train.shape == (120, 8, 8, 1) and run.config["data"]["shape"] == [8, 8, 1]
    # per-pixel scaler statistics from the rows fit trains on (the last 10% validate), reshaped back to images
    flat = run.data.x_train.reshape(120, -1)[:108]
    np.testing.assert_allclose(flat.mean(axis=0), 0.0, atol=1e-5)
    again = runs.setup(config.loads(config.dumps(run.config)))
    np.testing.assert_array_equal(again.data.x_test, run.data.x_test)


def test_flatten_false_and_explicit_shape(tmp_path):
    run = runs.setup({"data": {"name": "digits", "limit": 50, "shape": [64]}, "training": {"epochs": 1}})
    assert run.data.x_train.shape == (50, 64)
    with pytest.raises(gn.ConfigError, match="data.shape"):
        runs.setup({"data": {"name": "digits", "limit": 50, "shape": [7, 7]}})
    with pytest.raises(gn.ConfigError, match="data.flatten"):
        runs.setup({"data": {"name": "digits", "flatten": "no"}})


@pytest.mark.parametrize(
    ("first", "shape"),
    [
        ({"type": "Conv2D", "filters": 4, "kernel_size": 3, "activation": "relu"}, (8, 8, 1)),
        ({"type": "LSTM", "units": 8}, (8, 8)),
        ({"type": "Conv1D", "filters": 4, "kernel_size": 3}, (8, 8)),
    ],
)
def test_built_in_conv_and_recurrent_layers_get_their_sample_shapes(first, shape):
    layers = [first, {"type": "Flatten"}] if first["type"] != "LSTM" else [first]
    raw = {"data": {"name": "digits", "limit": 60},
           "model": {"layers": [*layers, {"type": "Dense", "units": 10, "activation": "softmax"}]},
           "training": {"epochs": 1}}
    run = runs.setup(raw)
    assert run.data.x_train.shape[1:] == shape and run.model.input_shape == shape
