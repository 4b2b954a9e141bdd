"""``gn.callbacks.ExponentialMovingAverage``: the recurrence a_t = d a_{t-1} + (1 - d) w_t against the
weights recorded step by step, the swap in and out, and the state a backup keeps."""

from __future__ import annotations

import numpy as np
import pytest

import glassnet as gn
from glassnet.callbacks import ExponentialMovingAverage
from glassnet.errors import ConfigError

L = gn.layers


class Record(gn.callbacks.Callback):
    """Every parameter's value after each batch (what the average is taken over)."""

    def __init__(self, attribute: str | None = None) -> None:
        super().__init__()
        self.attribute, self.steps = attribute, []

    def parameters(self):
        owner = self.model if self.attribute is None else getattr(self.model, self.attribute)
        return owner.parameters()

    def on_train_begin(self, logs=None):
        self.start = [p.value.copy() for p in self.parameters()]

    def on_batch_end(self, batch, logs=None):
        self.steps.append([p.value.copy() for p in self.parameters()])


def written_out(start, steps, decay):
    average = [w.astype(np.float64) for w in start]
    for weights in steps:
        average = [decay * a + (1 - decay) * w for a, w in zip(average, weights)]
    return average


def regressor(seed=0):
    gn.set_seed(seed)
    model = gn.Sequential([L.Input(shape=(3,)), L.Dense(4, activation="tanh"), L.BatchNormalization(), L.Dense(1)])
    model.compile(optimizer=gn.optimizers.Adam(0.05), loss="mse")
    return model


def test_the_average_follows_the_recurrence_and_stays_float32():
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(40, 3)).astype("float32"), rng.normal(size=(40, 1)).astype("float32")
    model = regressor()
    record, ema = Record(), ExponentialMovingAverage(decay=0.8)
    model.fit(x, y, epochs=2, batch_size=8, verbose=0, seed=0, callbacks=[record, ema])
    assert ema.updates == 10 and len(record.steps) == 10
    expected = written_out(record.start, record.steps, 0.8)
    assert len(ema.averages) == len(model.parameters())  # the moving statistics too
    for average, want in zip(ema.averages, expected):
        assert average.dtype == np.float32
        np.testing.assert_allclose(average, want, rtol=1e-5, atol=1e-6)
    assert not np.allclose(ema.averages[0], model.parameters()[0].value)  # an average, not the last weights


def test_trainable_only_leaves_the_moving_statistics_out():
    model = regressor()
    ema = ExponentialMovingAverage(decay=0.5, include_non_trainable=False)
    ema.set_model(model)
    ema.on_train_begin()
    assert len(ema.averages) == len(model.parameters(trainable_only=True)) < len(model.parameters())


def test_swapped_puts_the_average_in_and_the_trained_weights_back():
    rng = np.random.default_rng(1)
    x, y = rng.normal(size=(32, 3)).astype("float32"), rng.normal(size=(32, 1)).astype("float32")
    model = regressor()
    ema = ExponentialMovingAverage(decay=0.9)
    model.fit(x, y, epochs=2, batch_size=8, verbose=0, seed=0, callbacks=[ema])
    trained = model.predict(x)
    with ema.swapped() as averaged:
        assert averaged is model
        for param, average in zip(model.parameters(), ema.averages):
            np.testing.assert_array_equal(param.value, average)
        inside = model.predict(x)
    np.testing.assert_array_equal(model.predict(x), trained)
    assert not np.allclose(inside, trained)


def test_a_gan_generator_is_averaged_and_d_is_not_touched():
    rng = np.random.default_rng(2)
    gn.set_seed(0)
    generator = gn.Sequential([L.Input(shape=(2,)), L.Dense(8, activation="relu"), L.Dense(2)], name="generator")
    discriminator = gn.Sequential([L.Input(shape=(2,)), L.Dense(8, activation="relu"), L.Dense(1)],
                                  name="discriminator")
    gan = gn.models.GAN(generator, discriminator, latent_dim=2, seed=0)
    gan.compile()
    record, ema = Record("generator"), ExponentialMovingAverage(decay=0.7, attribute="generator")
    gan.fit(rng.normal(size=(64, 2)).astype("float32"), epochs=1, batch_size=16, verbose=0, seed=0,
            callbacks=[record, ema])
    assert len(ema.averages) == len(generator.parameters())
    for average, want in zip(ema.averages, written_out(record.start, record.steps, 0.7)):
        np.testing.assert_allclose(average, want, rtol=1e-5, atol=1e-6)
    with ema.swapped():
        samples = gan.sample(5, seed=0)
    with ema.swapped():
        np.testing.assert_array_equal(gan.sample(5, seed=0), samples)
    assert not np.allclose(gan.sample(5, seed=0), samples)


def test_a_resumed_run_continues_the_same_average(tmp_path):
    """Two fits of 1 epoch with a backup in between give the average of one fit of 2 epochs, bit for bit."""
    rng = np.random.default_rng(3)
    x, y = rng.normal(size=(32, 3)).astype("float32"), rng.normal(size=(32, 1)).astype("float32")
    straight = ExponentialMovingAverage(decay=0.6)
    regressor().fit(x, y, epochs=2, batch_size=8, verbose=0, seed=0, callbacks=[straight])
    folder = tmp_path / "backup"
    gn.backend.clear_session()
    first = ExponentialMovingAverage(decay=0.6)
    regressor().fit(x, y, epochs=1, batch_size=8, verbose=0, seed=0,
                    callbacks=[first, gn.callbacks.BackupAndRestore(folder, delete_checkpoint=False)])
    gn.backend.clear_session()
    resumed = ExponentialMovingAverage(decay=0.6)
    regressor().fit(x, y, epochs=2, batch_size=8, verbose=0, seed=0,
                    callbacks=[resumed, gn.callbacks.BackupAndRestore(folder, delete_checkpoint=False)])
    assert resumed.updates == straight.updates == 8
    for a, b in zip(resumed.averages, straight.averages):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("decay", [1.0, -0.1, True, "0.9"])
def test_a_bad_decay_is_refused_with_a_hint(decay):
    with pytest.raises(ConfigError, match=r"ExponentialMovingAverage: decay must be a number in \[0, 1\)"):
        ExponentialMovingAverage(decay=decay)


def test_a_missing_attribute_and_a_different_model_are_named():
    ema = ExponentialMovingAverage(attribute="generator")
    ema.set_model(regressor())
    with pytest.raises(ConfigError, match="has no attribute 'generator'"):
        ema.on_train_begin()
    other = ExponentialMovingAverage()
    other.set_state({"averages": [np.zeros(3, dtype="float32")], "updates": 4})
    other.set_model(regressor())
    with pytest.raises(ConfigError, match="the averages have shapes"):
        other.on_train_begin()
