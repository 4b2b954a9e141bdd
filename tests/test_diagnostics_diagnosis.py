"""diagnose(): each bad arm of experiments 1-3 yields its finding, each good arm and healthy run none."""

from __future__ import annotations

import numpy as np
import pytest

import glassnet as gn
from glassnet.app.experiments.core import load_digits_flat, mlp, train_arm
from glassnet.app.experiments.more import regression_with_outliers
from glassnet.diagnostics import Diagnostics, GradientMonitor, diagnose

NAMES = (
    "vanishing gradients",
    "exploding gradients",
    "dying ReLU",
    "learning rate too high",
    "learning rate too low",
    "saturated units",
    "vanishing gradients through time",
)


@pytest.fixture(scope="module")
def digits():
    return load_digits_flat()


def _fit(model, optimizer, x, y, loss="sparse_categorical_crossentropy", epochs=5):  # type: ignore[no-untyped-def]
    model.compile(optimizer=optimizer, loss=loss)
    with np.errstate(all="ignore"):
        return model.fit(
            x, y, epochs=epochs, batch_size=32, verbose=0, seed=0, callbacks=[GradientMonitor(probe=x[:256])]
        )


def _names(history) -> list[str]:  # type: ignore[no-untyped-def]
    return [f.name for f in diagnose(history)]


@pytest.mark.parametrize(
    ("experiment", "bad", "good", "finding", "layer"),
    [
        ("vanishing", "sigmoid", "relu", "vanishing gradients", "dense"),
        ("exploding", "plain", "clipped", "exploding gradients", "dense"),
        ("dying_relu", "relu", "leaky_relu", "dying ReLU", "dense"),
    ],
)
@pytest.mark.parametrize("seed", [0, 1])
def test_bad_arm_yields_its_finding_and_good_arm_none(digits, experiment, bad, good, finding, layer, seed):
    x, y = digits
    findings = diagnose(train_arm(experiment, bad, epochs=5, seed=seed, x=x, y=y))
    assert finding in [f.name for f in findings]
    hit = next(f for f in findings if f.name == finding)
    assert hit.layer == layer and hit.text.startswith(f"{finding} in layer {layer!r}")
    assert hit.remedies and all(r in hit.text for r in hit.remedies)
    assert diagnose(train_arm(experiment, good, epochs=5, seed=seed, x=x, y=y)) == []


@pytest.mark.parametrize(
    ("activation", "init", "optimizer"),
    [
        ("relu", "he_normal", gn.optimizers.SGD(0.05, momentum=0.9)),
        ("tanh", "glorot_uniform", gn.optimizers.SGD(0.05, momentum=0.9)),
        ("sigmoid", "glorot_uniform", gn.optimizers.SGD(0.05, momentum=0.9)),
        ("elu", "he_normal", gn.optimizers.SGD(0.01)),
    ],
)
def test_healthy_runs_get_no_finding(digits, activation, init, optimizer):
    x, y = digits
    history = _fit(mlp(3, 64, activation, init, seed=0), optimizer, x, y)
    assert history.history["loss"][-1] < 0.6 * history.history["loss"][0]
    assert diagnose(history) == []


@pytest.mark.parametrize("kind", ["batch_norm", "dropout"])
@pytest.mark.parametrize("optimizer", ["adam", "rmsprop", "adagrad"])
def test_healthy_runs_with_other_layers_and_optimizers_get_no_finding(digits, kind, optimizer):
    x, y = digits
    L = gn.layers
    hidden = []
    for _ in range(3):
        if kind == "batch_norm":
            hidden += [L.Dense(64, kernel_initializer="he_normal"), L.BatchNormalization(), L.ReLU()]
        else:
            hidden += [L.Dense(64, activation="relu", kernel_initializer="he_normal"), L.Dropout(0.2)]
    with gn.backend.using_generator(np.random.default_rng(0)):
        model = gn.Sequential([L.Input(shape=(64,)), *hidden, L.Dense(10, activation="softmax")])
    make = {
        "adam": lambda: gn.optimizers.Adam(1e-3),
        "rmsprop": lambda: gn.optimizers.RMSprop(1e-3),
        "adagrad": lambda: gn.optimizers.Adagrad(0.05),
    }[optimizer]
    history = _fit(model, make(), x, y)
    assert history.history["loss"][-1] < 0.5 * history.history["loss"][0]
    assert diagnose(history) == []


def test_saturated_units_are_found_and_not_in_healthy_tanh(digits):
    x, y = digits
    big = gn.initializers.RandomNormal(0.0, 1.0)
    findings = diagnose(_fit(mlp(3, 64, "tanh", big, seed=0), gn.optimizers.SGD(0.01), 4 * x, y))
    assert [f.name for f in findings] == ["saturated units", "saturated units"]
    assert [f.layer for f in findings] == ["dense", "dense_1"]


def test_learning_rate_too_low_but_not_for_a_converged_run(digits):
    x, y = digits
    findings = diagnose(_fit(mlp(3, 64, "relu", "he_normal", seed=0), gn.optimizers.SGD(1e-5), x, y))
    assert [f.name for f in findings] == ["learning rate too low"]
    # noise-free linear regression converges: its last steps are tiny, which is no reason to raise the rate
    rng = np.random.default_rng(0)
    xr = rng.normal(size=(256, 4)).astype(np.float32)
    yr = xr @ np.array([1.0, 2.0, 3.0, 4.0], dtype=np.float32)
    converged = _fit(
        gn.Sequential([gn.layers.Input((4,)), gn.layers.Dense(1)]), gn.optimizers.SGD(0.3), xr, yr, loss="mse"
    )
    assert converged.history["loss"][-1] < 1e-8
    assert diagnose(converged) == []


def test_learning_rate_too_high_for_mae_with_a_large_step():
    x, y = regression_with_outliers()

    def run(lr: float) -> list[str]:
        with gn.backend.using_generator(np.random.default_rng(0)):
            model = gn.Sequential([gn.layers.Input((1,)), gn.layers.Dense(1)])
        return _names(_fit(model, gn.optimizers.SGD(lr), x, y, loss="mae", epochs=10))

    assert run(5.0) == ["learning rate too high"]
    assert run(0.1) == []


def test_loss_growth_without_nan_is_exploding():
    x, y = regression_with_outliers()
    with gn.backend.using_generator(np.random.default_rng(0)):
        model = gn.Sequential([gn.layers.Input((1,)), gn.layers.Dense(1)])
    history = _fit(model, gn.optimizers.SGD(1.0), x, y, loss="mse", epochs=4)
    assert np.all(np.isfinite(history.history["loss"]))
    assert "exploding gradients" in _names(history)


def test_rules_on_constructed_records():
    def record(first, last, loss=(1.0, 0.5), ratio=1e-3):  # type: ignore[no-untyped-def]
        d = Diagnostics(layers=["a", "b"], loss=list(loss))
        for epoch, (g1, g2) in enumerate(zip(first, last, strict=True)):
            for layer, g in (("a", g1), ("b", g2)):
                d.gradients.append(
                    {"epoch": epoch, "layer": layer, "parameter": "*", "grad_norm": g, "update_ratio": ratio}
                )
        return d

    assert diagnose(record([1.0, 1.0], [1.0, 1.0])) == []
    assert [f.name for f in diagnose(record([9e-4, 9e-4], [1.0, 1.0]))] == ["vanishing gradients"]
    assert diagnose(record([1.1e-3, 1.1e-3], [1.0, 1.0])) == []
    assert [f.layer for f in diagnose(record([2e3, 2e3], [1.0, 1.0]))] == ["a"]
    assert [f.name for f in diagnose(record([1.0, float("nan")], [1.0, 1.0]))] == ["exploding gradients"]
    grows = record([1.0, 200.0], [1.0, 200.0], loss=(1.0, 2.0))
    assert [f.name for f in diagnose(grows)] == ["exploding gradients"]
    assert diagnose(record([1.0, 200.0], [1.0, 200.0], loss=(1.0, 0.5))) == []  # growing but learning
    assert [f.name for f in diagnose(record([1.0, 1.0], [1.0, 1.0], ratio=0.2))] == ["learning rate too high"]


def test_every_finding_text_starts_with_a_known_name():
    assert set(gn.diagnostics.diagnosis.REMEDIES) == set(NAMES)


def test_diagnose_needs_a_monitor_record():
    with pytest.raises(ValueError, match="diagnose=True"):
        diagnose(gn.callbacks.History())


def test_a_rising_loss_means_the_learning_rate_is_too_high():
    def record(loss):  # type: ignore[no-untyped-def]
        d = Diagnostics(layers=["a", "b"], loss=list(loss))
        for epoch in range(len(loss)):
            for layer, ratio in (("a", 2e-3), ("b", 5e-3)):
                d.gradients.append(
                    {"epoch": epoch, "layer": layer, "parameter": "*", "grad_norm": 1.0, "update_ratio": ratio}
                )
        return d

    (finding,) = diagnose(record([2.0, 1.5, 2.5]))
    assert finding.name == "learning rate too high" and finding.layer == "b"
    assert "rose from 2 (epoch 1) to 2.5 (epoch 3)" in finding.text
    assert diagnose(record([2.0, 2.5, 1.9])) == []  # a bump that recovers is not a rise
    assert diagnose(record([0.050, 0.049, 0.052])) == []  # a converged run wobbling around its minimum
    assert diagnose(record([2.0, 2.5])) == []  # too short to tell
