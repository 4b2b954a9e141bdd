"""save_weights/load_weights, get_layer and load_model(custom_objects=) (issue 11, item 6)."""

import numpy as np
import pytest

import glassnet as gn
from glassnet.layers.base import Layer


def _model(units=4):
    return gn.Sequential([gn.layers.Input(shape=(3,)), gn.layers.Dense(units, activation="relu"),
                          gn.layers.BatchNormalization(), gn.layers.Dense(2)])


def test_save_weights_and_load_weights_round_trip_every_parameter(tmp_path, rng):
    source, target = _model(), _model()
    for p in source.parameters():
        p.value = np.abs(rng.normal(size=p.value.shape)).astype(np.float32)
    source.save_weights(tmp_path / "w.glassnet")
    target.load_weights(tmp_path / "w.glassnet")
    for a, b in zip(source.get_weights(), target.get_weights()):
        np.testing.assert_array_equal(a, b)
    source.save(tmp_path / "m.glassnet")  # a full model file works too
    _model().load_weights(tmp_path / "m.glassnet")
    with pytest.raises(gn.ModelFileError, match="not a glassnet model"):
        gn.load_model(tmp_path / "w.glassnet")


def test_load_weights_refuses_another_architecture_and_changes_nothing(tmp_path):
    _model(units=4).save_weights(tmp_path / "w.glassnet")
    target = _model(units=5)
    before = target.get_weights()
    with pytest.raises(gn.ModelFileError, match=r"shape \(3, 4\), the architecture needs \(3, 5\)"):
        target.load_weights(tmp_path / "w.glassnet")
    assert all(np.array_equal(a, b) for a, b in zip(before, target.get_weights()))
    other = gn.Sequential([gn.layers.Input(shape=(3,)), gn.layers.Dense(2, name="head")])
    with pytest.raises(gn.ConfigError, match=r"arrays in the file, 2 in the model") as info:
        other.load_weights(tmp_path / "w.glassnet")
    assert str(info.value).count("head/kernel") == 1  # listed once
    with pytest.raises(gn.StateError, match="not built"):
        gn.Sequential([gn.layers.Dense(2)]).load_weights(tmp_path / "w.glassnet")


def test_get_layer_by_name_and_index():
    model = _model()
    assert model.get_layer("batch_normalization") is model.layers[1]
    assert model.get_layer(index=-1) is model.layers[2]
    with pytest.raises(gn.UnknownNameError, match="no layer 'nope'; layers: dense, batch_normalization"):
        model.get_layer("nope")
    with pytest.raises(gn.ConfigError, match=r"index must be an integer in \[-3, 3\), got 3"):
        model.get_layer(index=3)
    with pytest.raises(gn.ConfigError, match="either name= or index="):
        model.get_layer()


class Doubler(Layer):
    """y = 2 x (a layer nobody registered)."""

    def forward(self, x, training=False):
        return 2 * x

    def backward(self, grad_output):
        return 2 * grad_output


def test_custom_objects_make_an_unregistered_class_known_for_one_load(tmp_path, rng):
    from glassnet.layers import LAYERS

    model = gn.Sequential([gn.layers.Input(shape=(3,)), gn.layers.Dense(2), Doubler()])
    model.save(tmp_path / "m.glassnet")
    with pytest.raises(gn.ModelFileError, match="unknown layer class 'Doubler'"):
        gn.load_model(tmp_path / "m.glassnet")
    loaded = gn.load_model(tmp_path / "m.glassnet", custom_objects={"Doubler": Doubler})
    x = rng.normal(size=(4, 3)).astype(np.float32)
    np.testing.assert_array_equal(loaded.predict(x), model.predict(x))
    assert "Doubler" not in LAYERS.class_names()  # the registry is as it was
    with pytest.raises(gn.ConfigError, match="must map a class name to a class"):
        gn.load_model(tmp_path / "m.glassnet", custom_objects={"Doubler": lambda x: x})
    with pytest.raises(gn.ConfigError, match="not a subclass of any glassnet base"):
        gn.load_model(tmp_path / "m.glassnet", custom_objects={"Doubler": dict})
