"""gn.tune.optimize: the config-free Optuna study from Python (the library core of ``glassnet tune``)."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

import glassnet as gn

optuna = pytest.importorskip("optuna", reason="the tune extra: pip install 'glassnet[tune]'")
L = gn.layers
BAD_LR = 1e-5


def _data(n: int = 240, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Two Gaussian blobs in 4-D, labels 0/1 (separable, so a good learning rate reaches ~100%)."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, size=n)
    x = rng.normal(size=(n, 4)) + 2.0 * y[:, None]
    return x.astype(np.float32), y


def _build(params: dict) -> gn.Model:
    model = gn.Sequential([L.Input(shape=(4,)), L.Dense(params.get("units", 8), activation="relu"),
                           L.Dense(2, activation="softmax")])
    model.compile(optimizer=gn.optimizers.SGD(params["learning_rate"]), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    return model


SPACE = {"learning_rate": {"log": [1e-3, 1.0]}, "units": {"int": [2, 16]}}


def test_a_seeded_study_finds_a_learning_rate_better_than_a_bad_default_and_resumes(tmp_path):
    x, y = _data()
    gn.backend.set_seed(0)  # the bad model's initial weights
    bad = _build({"learning_rate": BAD_LR}).fit(x, y, epochs=4, validation_split=0.25, verbose=0, seed=0)
    bad_accuracy = max(bad.history["val_accuracy"])
    first = gn.tune.optimize(_build, SPACE, x, y, trials=4, metric="val_accuracy", epochs=4,
                             validation_split=0.25, out=tmp_path / "study", seed=0)
    assert len(first.study.trials) == 4 and (tmp_path / "study" / "journal.log").is_file()
    resumed = gn.tune.optimize(_build, SPACE, x, y, trials=8, metric="val_accuracy", epochs=4,
                               validation_split=0.25, out=tmp_path / "study", seed=0)
    assert len(resumed.study.trials) == 8  # the first four came back from the journal
    assert resumed.study.direction == optuna.study.StudyDirection.MAXIMIZE  # from the metric's name
    assert resumed.best_value >= 0.95 and resumed.best_value > bad_accuracy, (resumed.best_value, bad_accuracy)
    assert resumed.best_params["learning_rate"] > 10 * BAD_LR
    assert set(resumed.best_params) == {"learning_rate", "units"}


def test_the_value_is_the_best_epoch_and_an_in_memory_study_works():
    x, y = _data(120)
    seen: list[float] = []

    def build(params):
        model = _build(params)
        seen.append(params["learning_rate"])
        return model

    result = gn.tune.optimize(build, {"learning_rate": {"choice": [0.05]}}, x, y, trials=1, metric="loss", epochs=3,
                              validation_split=0.0)
    trial = result.study.trials[0]
    assert seen == [0.05] and result.study.direction == optuna.study.StudyDirection.MINIMIZE
    assert result.best_value == min(trial.intermediate_values.values())  # the pruning callback reported each epoch
    assert len(trial.intermediate_values) == 3


def test_a_model_that_is_not_compiled_and_a_missing_metric_are_clear_errors():
    x, y = _data(60)
    with pytest.raises(gn.ConfigError, match="must return a compiled model"):
        gn.tune.optimize(lambda p: gn.Sequential([L.Input(shape=(4,)), L.Dense(2)]),
                         {"learning_rate": {"log": [1e-3, 1e-1]}}, x, y, trials=1, epochs=1)
    with pytest.raises(gn.ConfigError, match="metric 'val_accuracy' is not logged"):
        gn.tune.optimize(_build, {"learning_rate": {"log": [1e-3, 1e-1]}}, x, y, trials=1, epochs=1,
                         metric="val_accuracy", validation_split=0.0)


@pytest.mark.parametrize(
    ("space", "message"),
    [
        ({}, "space is missing or empty"),
        ({"lr": {"log": [0.0, 1.0]}}, "log scale needs low > 0"),
        ({"lr": {"float": [1.0]}}, r"needs \[low, high\]"),
        ({"lr": {"int": [1.5, 4]}}, "int bounds must be integers"),
        ({"lr": {"choice": []}}, "choice must be a non-empty list"),
        ({"lr": {"float": [0.0, 1.0], "step": 2}}, r"unknown key\(s\) \['step'\]"),
        ({"lr": {"int": [1, 4], "choice": [1]}}, "exactly one of"),
    ],
)
def test_bad_spaces_are_clear_errors(space, message):
    x, y = _data(20)
    with pytest.raises(gn.ConfigError, match=message):
        gn.tune.optimize(_build, space, x, y, trials=1)


def test_bad_direction_and_trial_count_are_clear_errors():
    x, y = _data(20)
    with pytest.raises(gn.ConfigError, match='direction must be "minimize" or "maximize"'):
        gn.tune.optimize(_build, SPACE, x, y, direction="up")
    with pytest.raises(gn.ConfigError, match="trials must be >= 1"):
        gn.tune.optimize(_build, SPACE, x, y, trials=0)


def test_default_direction_follows_the_metric_name():
    assert gn.tune.default_direction("val_accuracy") == "maximize"
    assert gn.tune.default_direction("val_auc") == "maximize"
    assert gn.tune.default_direction("val_loss") == "minimize"


def test_import_glassnet_does_not_load_optuna():
    code = "import sys, glassnet; print('optuna' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"
