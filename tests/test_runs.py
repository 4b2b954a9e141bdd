"""Runs in-process: callbacks from [[callbacks]], extra report sections, regression, final metrics."""

from __future__ import annotations

import json

import numpy as np
import pytest

import glassnet as gn
from glassnet.app import config_data, plotting, run_report, runs
from glassnet.app.config import loads as config_loads


def tiny(**tables):
    base = {"data": {"name": "digits", "limit": 200}, "training": {"epochs": 2}}
    base.update(tables)
    return base


class RecordingCheckpoint(gn.callbacks.Callback):
    """Stands in for any callback class with a path argument: writes one line per epoch to ``path``."""

    def __init__(self, path: str, monitor: str = "val_loss") -> None:
        super().__init__()
        self.path, self.monitor = path, monitor

    def on_epoch_end(self, epoch, logs=None):
        with open(self.path, "a") as handle:
            handle.write(f"{epoch} {logs[self.monitor]!r}\n")


def test_callbacks_are_found_by_class_name_and_paths_land_in_the_run_folder(monkeypatch, tmp_path):
    family = gn.callbacks.CALLBACKS
    monkeypatch.setattr(family, "_classes", dict(family._classes))
    monkeypatch.setattr(family, "_aliases", dict(family._aliases))
    family.register(RecordingCheckpoint)
    run = runs.setup(tiny(callbacks=[{"type": "RecordingCheckpoint", "path": "epochs.txt"}]))
    result = runs.train(run, out=tmp_path, verbose=0)
    lines = (result.run_dir / "epochs.txt").read_text().splitlines()
    assert [line.split()[0] for line in lines] == ["0", "1"]
    assert float(lines[-1].split()[1]) == result.history["val_loss"][-1]
    assert config_loads((result.run_dir / "config.toml").read_text())["callbacks"] == [
        {"type": "RecordingCheckpoint", "path": "epochs.txt"}
    ]


def test_registered_report_sections_appear(monkeypatch, tmp_path):
    monkeypatch.setattr(run_report, "SECTION_PROVIDERS", [])
    run_report.register_section(lambda run, folder, history, metrics: ("Diagnosis", f"<p>{len(history['loss'])}</p>"))
    run_report.register_section(lambda *args: None)  # a provider may have nothing to say
    result = runs.train(runs.setup(tiny()), out=tmp_path, verbose=0)
    page = (result.run_dir / "report.html").read_text()
    assert "<h2>Diagnosis</h2>\n<p>2</p>" in page
    assert page.index("Final metrics") < page.index("Diagnosis") < page.index("<h2>Config</h2>")


def test_regression_run_has_predicted_vs_true_and_no_confusion_matrix(tmp_path):
    raw = {"data": {"name": "regression", "n_samples": 80, "n_features": 2}, "training": {"epochs": 2}}
    result = runs.train(runs.setup(raw), out=tmp_path, verbose=0)
    plots = {p.name for p in (result.run_dir / "plots").iterdir()}
    diagnosis = {"gradient_flow.png", "activation_stats.png"}  # [training] diagnose is on by default
    assert plots == {"loss.png", "mae.png", "predicted_vs_true.png"} | diagnosis
    saved = json.loads((result.run_dir / "metrics.json").read_text())
    assert saved["task"] == "regression" and set(saved["test"]) == {"loss", "mae"}


def test_default_runs_are_diagnosed_and_diagnose_false_turns_it_off(tmp_path):
    on = runs.train(runs.setup(tiny()), out=tmp_path / "on", verbose=0)
    page = (on.run_dir / "report.html").read_text()
    assert "<h2>Diagnosis</h2>" in page and 'data-file="plots/gradient_flow.png"' in page
    assert (on.run_dir / "diagnostics.csv").is_file()
    raw = tiny()
    raw.setdefault("training", {})["diagnose"] = False
    off = runs.train(runs.setup(raw), out=tmp_path / "off", verbose=0)
    assert "<h2>Diagnosis</h2>" not in (off.run_dir / "report.html").read_text()
    assert not (off.run_dir / "diagnostics.csv").exists()
    assert on.history == off.history  # watching does not change a seeded run


def test_final_metrics_match_a_direct_evaluation(tmp_path):
    run = runs.setup(tiny())
    result = runs.train(run, out=tmp_path, verbose=0)
    n_val = int(len(run.data.x_train) * 0.1)
    direct = run.model.evaluate(run.data.x_train[-n_val:], run.data.y_train[-n_val:])
    assert result.metrics["validation"] == direct
    assert result.history["val_loss"][-1] == pytest.approx(direct["loss"], rel=1e-6)
    predictions = run.model.predict(run.data.x_test).argmax(axis=1)
    assert result.metrics["test"]["accuracy"] == pytest.approx(np.mean(predictions == run.data.y_test))


def test_binary_sigmoid_classifier_plots_use_a_threshold(tmp_path):
    raw = {
        "data": {"name": "moons", "n_samples": 200},
        "model": {
            "layers": [
                {"type": "Dense", "units": 8, "activation": "tanh"},
                {"type": "Dense", "units": 1, "activation": "sigmoid"},
            ]
        },
        "loss": {"name": "binary_crossentropy"},
        "training": {"epochs": 5},
    }
    run = runs.setup(raw)
    result = runs.train(run, out=tmp_path, verbose=0)
    classes = run_report.predicted_classes(run.model, run.data.x_test)
    matrix = plotting.confusion_matrix(run.data.y_test, classes, 2)
    assert np.trace(matrix) / matrix.sum() == pytest.approx(result.metrics["test"]["accuracy"])
    assert 0 < classes.sum() < len(classes)  # both classes predicted, not an argmax over one unit
    assert (result.run_dir / "plots" / "decision_boundary.png").is_file()


def test_a_config_reaches_optimizers_schedules_scalers_layers_and_callbacks(tmp_path):
    raw = {
        "data": {"name": "spirals", "n_samples": 150},
        "preprocessing": {"scaler": "standard"},
        "model": {
            "layers": [
                {"type": "Dense", "units": 16},
                {"type": "BatchNormalization"},
                {"type": "ReLU"},
                {"type": "Dropout", "rate": 0.1},
                {"type": "Dense", "units": 3, "activation": "softmax"},
            ]
        },
        "optimizer": {
            "name": "adam",
            "schedule": {
                "name": "exponential_decay",
                "initial_learning_rate": 0.01,
                "decay_steps": 4,
                "decay_rate": 0.5,
            },
        },
        "training": {"epochs": 6, "batch_size": 32},
        "callbacks": [
            {"type": "ModelCheckpoint", "path": "best.glassnet", "monitor": "val_loss", "save_best_only": True},
            {"type": "EarlyStopping", "monitor": "val_loss", "patience": 100},
            {"type": "CSVLogger", "filename": "log.csv"},
        ],
    }
    run = runs.setup(raw)
    assert type(run.model.optimizer).__name__ == "Adam"
    assert [type(layer).__name__ for layer in run.model.layers][1:4] == ["BatchNormalization", "ReLU", "Dropout"]
    cut = config_data.training_rows(len(run.data.x_train), run.config["training"]["validation_split"])
    np.testing.assert_allclose(run.data.x_train[:cut].mean(axis=0), 0.0, atol=1e-6)  # fitted on the fit rows
    result = runs.train(run, out=tmp_path, verbose=0)
    assert (result.run_dir / "best.glassnet").is_file() and (result.run_dir / "log.csv").is_file()
    lr = result.history["learning_rate"]
    assert lr[0] > lr[-1]  # the schedule decays ...
    assert (result.run_dir / "plots" / "learning_rate.png").is_file()  # ... so its curve is drawn
    saved = gn.load_model(result.run_dir / "best.glassnet")
    assert [p.name for p in saved.parameters()] == [p.name for p in run.model.parameters()]


def test_scaler_is_fitted_on_the_training_rows_only_not_the_validation_rows(monkeypatch):
    made = []

    def recording_make_scaler(spec):
        scaler = make_scaler(spec)
        made.append(scaler)
        return scaler

    make_scaler = config_data.make_scaler
    monkeypatch.setattr(config_data, "make_scaler", recording_make_scaler)
    raw = {"data": {"name": "regression", "n_samples": 80, "n_features": 3}, "preprocessing": {"scaler": "standard"},
           "training": {"epochs": 1, "validation_split": 0.25}}
    run = runs.setup(raw)
    x_train, _, _, _ = config_data.load_split(run.config["data"])
    cut = len(x_train) - int(len(x_train) * 0.25)  # fit() validates on the last quarter
    assert len(run.data.x_train) == len(x_train) == 64 and cut == 48
    rows = x_train.astype(np.float32)
    (scaler,) = made
    np.testing.assert_allclose(scaler.mean_, rows[:cut].mean(axis=0, dtype=np.float64), rtol=1e-12)
    assert not np.allclose(scaler.mean_, rows.mean(axis=0, dtype=np.float64), rtol=1e-3)  # the old statistics
    np.testing.assert_allclose(run.data.x_train[:cut].mean(axis=0), 0.0, atol=1e-6)
