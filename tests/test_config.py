"""Configs: TOML round trip, defaults, generic name lookup, errors naming key, value and choices."""

from __future__ import annotations

import numpy as np
import pytest

import glassnet as gn
from glassnet.app import config, run_files
from glassnet.app.config_build import build_optimizer
from glassnet.app.report import Report, render
from glassnet.app.runs import setup


def small(**tables):
    """A fast config: 300 digits, 2 epochs, merged with ``tables``."""
    base = {"data": {"name": "digits", "limit": 300}, "training": {"epochs": 2}}
    for key, value in tables.items():
        base[key] = {**base.get(key, {}), **value} if isinstance(value, dict) else value
    return base


def test_dumps_round_trips_through_toml():
    original = {
        "data": {"name": "csv", "path": 'C:\\data\\"quoted".csv', "target": "label"},
        "model": {"name": "m", "layers": [{"type": "Dense", "units": 3}, {"type": "ReLU"}]},
        "optimizer": {
            "name": "sgd",
            "learning_rate": 0.1,
            "schedule": {"name": "cosine_decay", "alpha": 1e-3},
        },
        "training": {"epochs": 2, "metrics": ["accuracy", "mae"], "shuffle": False, "validation_split": 0.0},
        "callbacks": [
            {"type": "EarlyStopping", "patience": 3},
            {"type": "ModelCheckpoint", "path": "best.glassnet"},
        ],
    }
    assert config.loads(config.dumps(original)) == original


def test_empty_config_resolves_to_the_default_run():
    run = setup({"data": {"limit": 200}})
    resolved = run.config
    assert resolved["data"]["name"] == "digits" and resolved["data"]["task"] == "classification"
    assert resolved["preprocessing"] == {"rescale": 1 / 16, "scaler": "none"}
    assert [layer["units"] for layer in resolved["model"]["layers"]] == [64, 10]
    assert resolved["loss"] == {"name": "sparse_categorical_crossentropy"}
    assert resolved["training"]["epochs"] == 30 and resolved["training"]["metrics"] == ["accuracy"]
    assert run.model.input_shape == (64,) and run.model.output_shape == (10,)
    assert run.data.x_train.dtype == np.float32 and run.data.x_train.max() <= 1.0
    # the written config builds the same run again
    again = setup(config.loads(config.dumps(resolved)))
    assert again.config == resolved
    for a, b in zip(run.model.parameters(), again.model.parameters(), strict=True):
        np.testing.assert_array_equal(a.value, b.value)


def test_regression_defaults_and_overrides():
    run = setup({"data": {"name": "regression", "n_samples": 50}}, epochs=3, seed=4)
    assert run.config["data"]["task"] == "regression" and run.config["data"]["seed"] == 4
    assert run.config["loss"]["name"] == "mse" and run.config["training"]["metrics"] == ["mae"]
    assert run.config["training"]["epochs"] == 3 and run.model.output_shape == (1,)
    assert run.data.y_train.dtype == np.float32


@pytest.mark.parametrize(
    "raw, expected",
    [
        ({"optimizer": {"name": "adamm"}}, r'optimizer\.name: unknown optimizer "adamm"; valid: .*sgd'),
        ({"optimizr": {}}, r"unknown table \[optimizr\]; valid tables: data, preprocessing"),
        ({"training": {"epoch": 3}}, r"training: unknown key 'epoch'; valid keys: batch_size, diagnose, epochs"),
        ({"training": {"epochs": 0}}, r"training\.epochs must be an integer >= 1, got 0"),
        (
            {"training": {"validation_split": 1.5}},
            r"training\.validation_split must be a number in \[0.0, 1.0\)",
        ),
        ({"training": {"metrics": ["acuracy"]}}, r"training\.metrics: .*'acuracy'"),
        ({"data": {"name": "mnistt"}}, r'data\.name: unknown data set "mnistt"; valid: digits, xor'),
        ({"data": {"name": "moons", "nosie": 0.1}}, r"unknown key 'nosie'; valid keys: .*noise"),
        ({"data": {"name": "csv"}}, r"data\.path is required"),
        (
            {"model": {"layers": [{"type": "Dense", "units": 4}, {"type": "Dens", "units": 10}]}},
            r'model\.layers\[1\]\.type: unknown layer type "Dens"; valid: .*Dense',
        ),
        (
            {"model": {"layers": [{"type": "Dense", "unit": 4}]}},
            r"model\.layers\[0\]: unknown argument 'unit' for Dense; valid: units",
        ),
        (
            {"model": {"layers": [{"type": "Dense", "units": -4}]}},
            r"model\.layers\[0\]: .*units must be a positive",
        ),
        ({"model": {"layers": [{"units": 4}]}}, r"model\.layers\[0\]: missing 'type'"),
        ({"loss": {"name": "msee"}}, r'loss\.name: unknown loss "msee"; valid: .*mse'),
        ({"loss": {"name": "huber", "delta": -1.0}}, r"loss: .*delta"),
        ({"optimizer": {"name": "sgd", "momentum": 1.5}}, r"optimizer: .*momentum must be in"),
        ({"optimizer": {"name": "sgd", "schedule": {"name": "nope"}}}, r"optimizer\.schedule\.name: unknown"),
        ({"callbacks": [{"type": "Histry"}]}, r'callbacks\[0\]\.type: unknown callback "Histry"'),
        (
            {"callbacks": [{"name": "EarlyStopping"}]},
            r"callbacks\[0\]: missing 'type' \(e\.g\. type = \"EarlyStopping\"\); .*not name",
        ),
        (
            {"model": {"layers": [{"type": "Dense", "units": 16, "activation": "relu"}]}},
            r"model\.layers\[0\]: the last layer gives 16 outputs but the data has 10 classes; hint: .*units = 10",
        ),
        (
            {"data": {"name": "regression"}, "model": {"layers": [{"type": "Dense", "units": 3}]}},
            r"model\.layers\[0\]: the last layer gives 3 outputs but the data has 1 target column",
        ),
        (
            {"preprocessing": {"scaler": "standardd"}},
            r'preprocessing\.scaler: unknown scaler "standardd"; valid: .*none',
        ),
        ({"preprocessing": {"rescale": -1}}, r"preprocessing\.rescale must be a number >= 0"),
    ],
)
def test_config_errors_name_key_value_and_choices(raw, expected):
    with pytest.raises(gn.ConfigError, match=expected):
        setup(small(**raw))


def test_load_reports_toml_errors_and_makes_data_paths_absolute(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text("[training\nepochs = 2\n")
    with pytest.raises(gn.ConfigError, match="not valid TOML"):
        config.load(bad)
    good = tmp_path / "sub" / "run.toml"
    good.parent.mkdir()
    good.write_text('[data]\nname = "csv"\npath = "table.csv"\n')
    assert config.load(good)["data"]["path"] == str(tmp_path / "sub" / "table.csv")
    with pytest.raises(gn.ConfigError, match="examples: .*moons"):
        config.find("no_such_config")
    assert config.find("moons").name == "moons.toml"


def test_a_shipped_example_run_by_name_reads_data_from_the_current_folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    mnist = config.load(config.find("mnist"))["data"]
    assert mnist["train_images"] == str(tmp_path / "mnist" / "train-images-idx3-ubyte.gz")
    assert config.load(config.find("csv"))["data"]["path"] == str(tmp_path / "my_data.csv")
    copy = tmp_path / "mine" / "mnist.toml"  # a copy elsewhere keeps paths relative to itself
    copy.parent.mkdir()
    copy.write_text(config.find("mnist").read_text())
    assert config.load(copy)["data"]["test_labels"] == str(tmp_path / "mine" / "mnist" / "t10k-labels-idx1-ubyte.gz")


def test_every_shipped_example_is_a_valid_config(tmp_path):
    names = config.examples()
    assert {"digits", "xor", "moons", "circles", "spirals", "blobs", "regression"} <= set(names)
    for name in names:
        raw = config.load(config.find(name))
        config.check_tables(raw, name)
        if raw["data"]["name"] in ("csv", "idx", "npz"):
            continue  # these point at the user's own files (npz ones: test_sequence_cli.py, test_cnn_configs.py)
        run = setup(raw)
        if run.kind == "sequential":  # a generative model gives samples (tests/test_generative_cli.py)
            assert run.model.output_shape[-1:] == (run.data.n_outputs,), name  # token models: (T, vocabulary)


def test_registered_classes_work_in_configs_without_cli_changes(monkeypatch):
    class Lion(gn.optimizers.Optimizer):
        def __init__(self, learning_rate=0.001, beta=0.9):
            super().__init__(learning_rate)
            self.beta = beta

    family = gn.optimizers.OPTIMIZERS
    monkeypatch.setattr(family, "_classes", dict(family._classes))
    monkeypatch.setattr(family, "_aliases", dict(family._aliases))
    family.register(Lion, "lion")
    table, optimizer = build_optimizer({"name": "lion", "beta": 0.5}, {})
    assert isinstance(optimizer, Lion) and optimizer.beta == 0.5
    with pytest.raises(gn.ConfigError, match="lion"):
        build_optimizer({"name": "lino"}, {})


def test_scalers_come_from_the_registry(monkeypatch):
    class ShiftScaler:
        def fit(self, x):
            self.mean_ = x.mean(axis=0)
            return self

        def transform(self, x):
            return x - self.mean_

        def fit_transform(self, x):
            return self.fit(x).transform(x)

    family = gn.preprocessing.SCALERS
    monkeypatch.setattr(family, "base", object)
    monkeypatch.setattr(family, "_classes", dict(family._classes))
    monkeypatch.setattr(family, "_aliases", dict(family._aliases))
    family.register(ShiftScaler, "shift")
    run = setup(small(preprocessing={"scaler": "shift"}))
    assert run.config["preprocessing"]["scaler"] == "shift"
    from glassnet.app.config_data import training_rows

    cut = training_rows(len(run.data.x_train), run.config["training"]["validation_split"])
    np.testing.assert_allclose(run.data.x_train[:cut].mean(axis=0), 0.0, atol=1e-5)  # fitted on the fit rows


def test_run_folder_names_never_collide(tmp_path):
    first = run_files.make_run_dir(tmp_path, "my run", now=0.0)
    second = run_files.make_run_dir(tmp_path, "my run", now=0.0)
    assert first.name.startswith("my_run-") and second.name == first.name + "-2"


def test_history_csv_round_trips_exactly(tmp_path):
    history = {"loss": [1 / 3, 0.1 + 0.2], "val_loss": [2 / 7, 1e-300]}
    run_files.write_history_csv(tmp_path / "h.csv", history)
    assert run_files.read_history_csv(tmp_path / "h.csv") == history
    assert (tmp_path / "h.csv").read_text().splitlines()[0] == "epoch,loss,val_loss"


def test_report_escapes_text_and_keeps_extra_sections():
    report = Report(
        title="run <1>",
        summary={"data": "a & b", "params": 1234},
        config_text='x = "<y>"',
        metrics={"train": {"loss": 0.5}, "validation": None, "test": {"loss": 0.25}},
        sections=[("Diagnosis", "<p id='diag'>ok</p>")],
        notice="no pictures",
    )
    page = render(report)
    assert "run &lt;1&gt;" in page and "a &amp; b" in page and "&lt;y&gt;" in page
    assert "<h2>Diagnosis</h2>\n<p id='diag'>ok</p>" in page
    assert "1,234" in page and "0.2500" in page and ">validation<" not in page
