"""glassnet tune: a seeded Optuna study over a config's [tune.space], resumable, with a runnable best config."""

from __future__ import annotations

import pytest

import glassnet as gn

pytest.importorskip("optuna", reason="the tune extra: pip install 'glassnet[tune]'")

from glassnet.app import config, runs, tune  # noqa: E402
from glassnet.app.cli import main  # noqa: E402

BAD_DEFAULT = 1e-5


def _config(trials_epochs: int = 3) -> dict:
    return {
        "data": {"name": "digits", "limit": 300},
        "optimizer": {"name": "sgd", "learning_rate": BAD_DEFAULT, "momentum": 0.9},
        "training": {"epochs": trials_epochs},
        "tune": {"metric": "val_accuracy",
                 "space": {"optimizer.learning_rate": {"log": [1e-5, 0.5]}, "model.layers.0.units": {"int": [8, 64]}}},
    }


@pytest.mark.slow
def test_a_study_beats_the_bad_default_resumes_and_writes_a_runnable_best_config(tmp_path):
    raw = _config()
    default = runs.train(runs.setup({k: v for k, v in raw.items() if k != "tune"}), out=tmp_path / "r", verbose=0)
    default_value = max(default.history["val_accuracy"])
    first = tune.optimize(raw, trials=4, out=tmp_path / "t", seed=0)
    assert len(first.study.trials) == 4
    resumed = tune.optimize(raw, trials=7, out=tmp_path / "t", seed=0)  # the journal holds the first 4
    assert len(resumed.study.trials) == 7
    assert resumed.best_value > default_value + 0.2, (resumed.best_value, default_value)
    assert resumed.best_params["optimizer.learning_rate"] > 10 * BAD_DEFAULT
    best = config.load(tmp_path / "t" / "best.toml")
    assert "tune" not in best and best["optimizer"]["learning_rate"] == resumed.best_params["optimizer.learning_rate"]
    assert main(["train", str(tmp_path / "t" / "best.toml"), "--out", str(tmp_path / "runs"), "--quiet"]) == 0
    assert (tmp_path / "t" / "report.html").is_file() and (tmp_path / "t" / "plots" / "slice_plots.png").is_file()


def test_the_command_line_runs_a_study(tmp_path):
    path = tmp_path / "study.toml"
    path.write_text(config.dumps(_config(trials_epochs=2)))
    assert main(["tune", str(path), "--trials", "2", "--out", str(tmp_path / "t")]) == 0
    assert (tmp_path / "t" / "best.toml").is_file()
    assert main(["tune", str(path), "--trials", "0"]) == 2


@pytest.mark.parametrize(
    ("space", "message"),
    [
        ({}, "tune.space is missing or empty"),
        ({"optimizer.learning_rate": {"log": [0.0, 1.0]}}, "log scale needs low > 0"),
        ({"optimizer.learning_rate": {"float": [1.0]}}, r"needs \[low, high\]"),
        ({"model.layers.5.units": {"int": [1, 4]}}, "has 2 entries"),
        ({"training.batch_size": {"int": [1, 4], "choice": [1]}}, "exactly one of"),
    ],
)
def test_bad_search_spaces_are_clear_errors(space, message, tmp_path):
    raw = {**_config(), "tune": {"space": space}}
    with pytest.raises(gn.ConfigError, match=message):
        tune.optimize(raw, trials=1, out=tmp_path / "t")


def test_set_path_indexes_lists_and_creates_tables():
    cfg = {"model": {"layers": [{"units": 3}]}}
    tune.set_path(cfg, "model.layers.0.units", 7)
    tune.set_path(cfg, "optimizer.learning_rate", 0.1)
    assert cfg == {"model": {"layers": [{"units": 7}]}, "optimizer": {"learning_rate": 0.1}}
