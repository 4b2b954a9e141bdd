"""LearningRateScheduler and ReduceLROnPlateau: fed synthetic logs, then through fit's history."""

from __future__ import annotations

import numpy as np
import pytest

import glassnet as gn
from glassnet.callbacks import LearningRateScheduler, ReduceLROnPlateau
from glassnet.errors import ConfigError


class _Stub:
    """Just enough model for a callback: an optimizer with a learning rate."""

    def __init__(self, lr=1.0):
        self.optimizer = gn.optimizers.SGD(lr)


def _plateau(losses, **kwargs):
    model = _Stub()
    callback = ReduceLROnPlateau(monitor="loss", **kwargs)
    callback.set_model(model)
    callback.on_train_begin()
    rates = []
    for epoch, loss in enumerate(losses):
        callback.on_epoch_end(epoch, {"loss": loss})
        rates.append(model.optimizer.learning_rate)
    return rates


def test_reduce_lr_on_plateau_waits_patience_epochs():
    # epoch 0 sets best; epochs 1-3 do not improve: the third of them (patience=3) reduces
    rates = _plateau([1.0, 1.0, 1.2, 1.0, 1.0, 1.0, 1.0], factor=0.5, patience=3)
    assert rates == [1.0, 1.0, 1.0, 0.5, 0.5, 0.5, 0.25]


def test_reduce_lr_on_plateau_improvement_resets_and_min_delta_counts():
    # 0.99995 beats 1.0 by less than min_delta=1e-4: no improvement; 0.5 resets the count
    rates = _plateau([1.0, 0.99995, 0.5, 0.6, 0.6], factor=0.1, patience=2, min_delta=1e-4)
    assert rates == pytest.approx([1.0, 1.0, 1.0, 1.0, 0.1])


def test_reduce_lr_on_plateau_floor_cooldown_and_max_mode():
    assert _plateau([1.0] * 6, factor=0.1, patience=1, min_lr=0.05) == pytest.approx(
        [1.0, 0.1, 0.05, 0.05, 0.05, 0.05]
    )
    assert _plateau([1.0] * 6, factor=0.5, patience=1, cooldown=2) == pytest.approx(
        [1.0, 0.5, 0.5, 0.5, 0.25, 0.25]
    )
    model = _Stub()
    callback = ReduceLROnPlateau(monitor="val_accuracy", factor=0.5, patience=1)
    assert callback.mode == "max"
    callback.set_model(model)
    for epoch, acc in enumerate([0.5, 0.6, 0.55]):
        callback.on_epoch_end(epoch, {"val_accuracy": acc})
    assert model.optimizer.learning_rate == 0.5


def test_learning_rate_scheduler_calls_fn_with_epoch_and_current_rate():
    model = _Stub(0.8)
    seen = []

    def halve_after_two(epoch, lr):
        seen.append((epoch, lr))
        return lr if epoch < 2 else lr / 2

    callback = LearningRateScheduler(halve_after_two)
    callback.set_model(model)
    for epoch in range(4):
        callback.on_epoch_begin(epoch)
    assert seen == [(0, 0.8), (1, 0.8), (2, 0.8), (3, 0.4)]
    assert model.optimizer.learning_rate == 0.2


def _data():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(64, 3)).astype(np.float32)
    y = (x @ np.array([1.0, -2.0, 0.5], dtype=np.float32))[:, None]
    return x, y


def _model(optimizer):
    model = gn.Sequential([gn.layers.Input(shape=(3,)), gn.layers.Dense(1)])
    model.compile(optimizer=optimizer, loss="mse")
    return model


def test_history_records_the_rate_the_scheduler_set():
    x, y = _data()
    model = _model(gn.optimizers.SGD(0.1))
    callback = LearningRateScheduler(lambda epoch, lr: 0.1 * 0.5**epoch)
    history = model.fit(x, y, epochs=4, batch_size=16, verbose=0, callbacks=[callback])
    assert history.history["learning_rate"] == pytest.approx([0.1, 0.05, 0.025, 0.0125])


def test_history_records_plateau_reductions():
    x, y = _data()
    model = _model(gn.optimizers.SGD(0.05))
    # min_delta larger than any possible improvement: every epoch after the first is a plateau epoch
    callback = ReduceLROnPlateau(monitor="loss", factor=0.5, patience=2, min_delta=1e6)
    history = model.fit(x, y, epochs=6, batch_size=16, verbose=0, callbacks=[callback])
    assert history.history["learning_rate"] == pytest.approx([0.05, 0.05, 0.05, 0.025, 0.025, 0.0125])


def test_history_records_a_per_step_schedule():
    x, y = _data()
    schedule = gn.schedules.ExponentialDecay(0.1, decay_steps=4, decay_rate=0.5)
    history = _model(gn.optimizers.Adam(schedule)).fit(x, y, epochs=3, batch_size=16, verbose=0)
    # 4 steps per epoch; the rate of each epoch's last step is recorded
    assert history.history["learning_rate"] == pytest.approx([0.1 * 0.5 ** (s / 4) for s in (3, 7, 11)])


def test_callbacks_refuse_a_schedule_and_a_missing_monitor():
    x, y = _data()
    model = _model(gn.optimizers.SGD(gn.schedules.StepDecay(0.1, 10)))
    with pytest.raises(ConfigError, match="already a schedule"):
        model.fit(x, y, epochs=1, verbose=0, callbacks=[LearningRateScheduler(lambda e, lr: lr)])
    model = _model(gn.optimizers.SGD(0.1))
    with pytest.raises(ConfigError, match="val_loss"):
        model.fit(x, y, epochs=1, verbose=0, callbacks=[ReduceLROnPlateau()])
    with pytest.raises(ConfigError, match="factor"):
        ReduceLROnPlateau(factor=1.5)
    with pytest.raises(ConfigError, match="finite"):
        model.fit(x, y, epochs=1, verbose=0, callbacks=[LearningRateScheduler(lambda e, lr: float("nan"))])
