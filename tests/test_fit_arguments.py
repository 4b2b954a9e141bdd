"""Issue 11 item 5: every bad argument or input of fit/evaluate/predict is a clear error before anything
changes; the catalogue is in docs/reliability.md."""

from __future__ import annotations

import numpy as np
import pytest

import glassnet as gn

L = gn.layers


def _data(rng, n=20):
    x = rng.normal(size=(n, 3)).astype(np.float32)
    return x, (x[:, :1] > 0).astype(np.float32)


def _model(built=True, bn=False):
    layers = [L.Dense(4, activation="relu"), *([L.BatchNormalization()] if bn else []),
              L.Dense(1, activation="sigmoid")]
    model = gn.Sequential(([L.Input(shape=(3,))] if built else []) + layers)
    model.compile(gn.optimizers.SGD(0.1), "binary_crossentropy")
    return model


def _weights(model):
    return [w.copy() for w in model.get_weights()]


@pytest.mark.parametrize(("kwargs", "match"), [
    ({"epochs": -1}, "epochs must be a non-negative integer, got -1"),
    ({"epochs": 1.5}, "epochs must be a non-negative integer, got 1.5"),
    ({"epochs": "3"}, "epochs must be a non-negative integer, got '3'"),
    ({"epochs": True}, "epochs must be a non-negative integer, got True"),
    ({"epochs": 2, "initial_epoch": 3}, r"initial_epoch must be an integer in \[0, epochs=2\], got 3"),
    ({"initial_epoch": -1}, "initial_epoch must be an integer"),
    ({"seed": -1}, "seed must be None, a non-negative integer"),
    ({"seed": 1.5}, "seed must be None"),
    ({"seed": "a"}, "seed must be None"),
    ({"verbose": 3}, "verbose must be 0 .* or 'auto', got 3"),
    ({"verbose": "loud"}, "verbose must be 0"),
    ({"shuffle": "yes"}, "shuffle must be True or False, got 'yes'"),
    ({"shuffle": 1}, "shuffle must be True or False, got 1"),
    ({"steps_per_epoch": 0}, "steps_per_epoch must be None or a positive integer, got 0"),
    ({"callbacks": "early_stopping"}, "callbacks must be a list of gn.callbacks.Callback, got str"),
])
def test_bad_fit_arguments_are_refused_before_anything_changes(kwargs, match, rng):
    x, y = _data(rng)
    model = _model()
    before = _weights(model)
    with pytest.raises(gn.ConfigError, match=match):
        model.fit(x, y, **{"verbose": 0, **kwargs})
    assert all(np.array_equal(a, b) for a, b in zip(before, model.get_weights()))
    unbuilt = _model(built=False)
    with pytest.raises(gn.ConfigError, match=match):
        unbuilt.fit(x, y, **{"verbose": 0, **kwargs})
    assert not unbuilt.built


def test_verbose_auto_is_verbose_1_as_in_keras(rng, capsys):
    x, y = _data(rng)
    _model().fit(x, y, epochs=1, verbose="auto", seed=0)
    auto = capsys.readouterr().out
    _model().fit(x, y, epochs=1, verbose=1, seed=0)
    one = capsys.readouterr().out
    assert auto.startswith("Epoch 1/1") and auto.split(" - ")[0] == one.split(" - ")[0]


@pytest.mark.parametrize(("where", "array", "what"), [
    ("x", np.zeros((20, 3), dtype=complex), "complex"),
    ("x", np.zeros((20, 3), dtype="datetime64[D]"), "datetime"),
    ("x", np.full((20, 3), "1.5"), "string"),
    ("x", np.full((20, 3), b"1"), "bytes"),
    ("x", np.array([[1.0, "a", 2.0]] * 20, dtype=object), "str"),
    ("y", np.full((20, 1), "cat"), "string"),
    ("y", np.zeros((20, 1), dtype=complex), "complex"),
])
def test_non_numeric_inputs_or_targets_are_refused(where, array, what, rng):
    x, y = _data(rng)
    model = _model()
    data = (array, y) if where == "x" else (x, array)
    with pytest.raises(gn.ConfigError, match=f"{where}.*{what}"):
        model.fit(*data, verbose=0)
    with pytest.raises(gn.ConfigError, match=what):
        model.evaluate(*data)


def test_numeric_object_and_bool_arrays_are_accepted(rng):
    x, y = _data(rng)
    model = _model()
    model.fit(x.astype(object), y, verbose=0)
    assert model.predict(x > 0).dtype == np.float32


def _softmax_model():
    model = gn.Sequential([L.Input(shape=(3,)), L.Dense(3, activation="softmax")])
    model.compile("sgd", "categorical_crossentropy")
    return model


@pytest.mark.parametrize(("scale", "shift", "match"), [
    (2.0, 0.0, r"must lie in \[0, 1\], got values in \[0.0, 2.0\]"),
    (1.0, -0.5, r"must lie in \[0, 1\]"),
    (0.5, 0.0, "must sum to 1 over the classes, but 20 row.* sums to 0.5"),
])
def test_categorical_targets_must_be_distributions(scale, shift, match, rng):
    x, _ = _data(rng)
    one_hot = np.eye(3, dtype=np.float32)[rng.integers(0, 3, 20)]
    model = _softmax_model()
    with pytest.raises(gn.LabelError, match=match):
        model.fit(x, one_hot * scale + shift, verbose=0)
    model.fit(x, one_hot * 0.9 + 0.1 / 3, verbose=0)  # label smoothing: rows still sum to 1


def test_a_model_without_layers_is_refused(rng):
    x, y = _data(rng)
    empty = gn.Sequential([])
    empty.compile("sgd", "mse")
    for call in (lambda: empty.fit(x, y, verbose=0), lambda: empty.predict(x), lambda: empty.evaluate(x, y),
                 lambda: empty.predict_on_batch(x)):
        with pytest.raises(gn.ConfigError, match="has no layers"):
            call()


def test_a_bare_callback_instead_of_a_list_works(rng):
    x, y = _data(rng)
    seen = []

    class Record(gn.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            seen.append(epoch)

    _model().fit(x, y, epochs=2, callbacks=Record(), verbose=0)
    _model().fit(x, y, epochs=1, callbacks=gn.callbacks.Callback(), verbose=0)
    assert seen == [0, 1]


@pytest.mark.parametrize("bad", ["features", "samples", "labels"])
def test_validation_data_is_checked_before_the_first_epoch(bad, rng):
    x, y = _data(rng)
    x_val = x[:, :2] if bad == "features" else x
    y_val = y[:5] if bad == "samples" else y * 3 if bad == "labels" else y
    began = []

    class Began(gn.callbacks.Callback):
        def on_train_begin(self, logs=None):
            began.append(True)

    model = _model()
    before = _weights(model)
    with pytest.raises((gn.ShapeError, gn.LabelError), match="val_|expects input of shape|targets must lie in"):
        model.fit(x, y, validation_data=(x_val, y_val), callbacks=[Began()], verbose=0)
    assert not began and all(np.array_equal(a, b) for a, b in zip(before, model.get_weights()))


def test_a_failed_first_fit_leaves_the_model_unbuilt_and_the_next_fit_builds_it_afresh(rng):
    x, y = _data(rng)
    model = _model(built=False)
    with pytest.raises(gn.ShapeError, match="x has 20 samples but y has 5"):
        model.fit(x, y[:5], verbose=0, seed=0)
    assert not model.built and all(not layer.built and not layer.parameters() for layer in model.layers)
    with pytest.raises(gn.ShapeError):  # the validation data fails after the model was built from x
        model.fit(x, y, validation_data=(x[:, :2], y), verbose=0, seed=0)
    assert not model.built
    x4 = np.concatenate([x, x[:, :1]], axis=1)  # now 4 features: the model must be rebuilt for them
    model.fit(x4, y, epochs=2, verbose=0, seed=0)
    fresh = gn.Sequential([L.Dense(4, activation="relu"), L.Dense(1, activation="sigmoid")])
    fresh.compile(gn.optimizers.SGD(0.1), "binary_crossentropy")
    fresh.fit(x4, y, epochs=2, verbose=0, seed=0)
    assert model.layers[0].kernel.shape == (4, 4)
    assert all(np.array_equal(a, b) for a, b in zip(model.get_weights(), fresh.get_weights()))


def test_predict_refuses_nan_inputs_naming_the_sample(rng):
    x, _ = _data(rng)
    x[7, 1] = np.nan
    model = _model()
    for call in (model.predict, model.predict_on_batch):
        with pytest.raises(gn.NonFiniteError, match="first in sample 7; hint: predict refuses them"):
            call(x)


def test_batch_normalization_refuses_one_value_per_channel_in_training(rng):
    layer = L.BatchNormalization()
    with pytest.raises(gn.ShapeError, match="more than 1 value per channel, got input of shape \\(1, 3\\)"):
        layer.forward(rng.normal(size=(1, 3)), training=True)
    layer.forward(rng.normal(size=(1, 4, 3)), training=True)  # one sample, four positions: defined
    layer.forward(rng.normal(size=(1, 3)), training=False)  # inference uses the moving statistics


@pytest.mark.parametrize(("n", "batch_size"), [(21, 10), (1, 32), (1, 1)])
def test_fit_refuses_a_last_batch_of_one_sample_for_batch_norm_before_training(n, batch_size, rng):
    x, y = _data(rng, n)
    model = _model(bn=True)
    before = _weights(model)
    with pytest.raises(gn.ShapeError, match="last training batch would hold 1 sample"):
        model.fit(x, y, batch_size=batch_size, verbose=0)
    assert all(np.array_equal(a, b) for a, b in zip(before, model.get_weights()))
    _model().fit(x, y, batch_size=batch_size, verbose=0)  # without BatchNormalization a batch of 1 is fine


def test_partial_last_batch_updates_the_moving_variance_with_its_biased_variance_as_keras(rng, float64):
    x = rng.normal(size=(22, 3)) * [1.0, 2.0, 0.5]
    model = gn.Sequential([L.Input(shape=(3,)), L.BatchNormalization(momentum=0.9)])
    model.compile(gn.optimizers.SGD(0.0), "mse")
    model.fit(x, np.zeros_like(x), batch_size=10, shuffle=False, verbose=0)  # batches of 10, 10 and 2
    mean, var = np.zeros(3), np.ones(3)
    for batch in (x[:10], x[10:20], x[20:]):  # Keras: tf.nn.moments (biased) in every batch
        mean = 0.9 * mean + 0.1 * batch.mean(axis=0)
        var = 0.9 * var + 0.1 * batch.var(axis=0)
    bn = model.layers[0]
    np.testing.assert_allclose(bn.moving_mean.value, mean, rtol=1e-12)
    np.testing.assert_allclose(bn.moving_variance.value, var, rtol=1e-12)


@pytest.mark.parametrize("rows", [1, 20_000])  # a small parameter (cached cap array) and one above a block
def test_adam_second_moment_stays_finite_for_huge_float32_gradients(rows):
    param = gn.parameter.Parameter(np.ones((rows, 4), dtype=np.float32))
    optimizer = gn.optimizers.Adam(1e-3)
    for scale in (1e30, 3e38, 1.0):
        param.grad[...] = np.float32(scale) * np.array([1, -1, 1, 0], dtype=np.float32)
        with np.errstate(over="ignore"):
            optimizer.step([param])
        v = optimizer.state[param]["second_moment"]
        assert v.dtype == np.float32 and np.isfinite(v).all() and np.isfinite(param.value).all()
    assert (param.value[:, 0] != param.value[:, 3]).all()  # the huge-gradient weights moved (inf v freezes them)


@pytest.mark.parametrize("clip", [{"clipnorm": 1.0}, {"global_clipnorm": 1.0}])
@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_clipping_a_non_finite_gradient_is_reported(clip, bad):
    param = gn.parameter.Parameter(np.ones(3, dtype=np.float32), name="dense/kernel")
    param.grad[...] = [0.5, bad, 0.5]
    with pytest.raises(gn.NonFiniteError, match=f"{next(iter(clip))}: the gradient norm is .*'dense/kernel'"):
        gn.optimizers.SGD(0.1, **clip).step([param])
    assert np.array_equal(param.value, np.ones(3))


def test_stop_training_is_reset_at_the_start_of_fit(rng):
    x, y = _data(rng)
    model = _model()
    model.stop_training = True
    assert len(model.fit(x, y, epochs=3, verbose=0).history["loss"]) == 3
