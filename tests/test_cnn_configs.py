"""The shipped CNN configs: digits-cnn trains through the runs API; mnist-cnn / fashion-cnn resolve and
train on a slice of the shared .npz files (skipped when ../shared/data is absent)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from glassnet.app import config, runs

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data"


def test_cnn_examples_are_shipped():
    assert {"digits-cnn", "mnist-cnn", "fashion-cnn"} <= set(config.examples())


def test_digits_cnn_trains_on_images_through_the_runs_api(tmp_path):
    run = runs.setup(config.load(config.find("digits-cnn")), epochs=4)
    assert run.data.x_train.shape[1:] == (8, 8, 1)  # the first layer is a Conv2D: images, not vectors
    assert [type(layer).__name__ for layer in run.model.layers][:2] == ["Conv2D", "MaxPooling2D"]
    result = runs.train(run, out=tmp_path, verbose=0)
    metrics = json.loads((result.run_dir / "metrics.json").read_text())
    assert metrics["status"] == "completed" and metrics["epochs_run"] == 4
    assert metrics["test"]["accuracy"] > 0.8, metrics["test"]  # chance is 0.1; 15 epochs reach ~0.99
    page = (result.run_dir / "report.html").read_text()
    assert "<h2>Convolutional layers</h2>" in page  # glassnet.app.report_conv, registered by runs
    for name in ("conv_filters.png", "conv_feature_maps.png", "misclassified.png", "conv_channels.png"):
        assert (result.run_dir / "plots" / name).is_file() and f'data-file="plots/{name}"' in page, name
    channels = (result.run_dir / "channels.csv").read_text().splitlines()  # the monitor's per-channel rows
    assert channels[0] == "epoch,layer,activation,channel,dead_fraction,saturated_fraction"
    assert len(channels) == 1 + 4 * (16 + 32)  # 4 epochs x the channels of both ReLU conv layers


@pytest.mark.parametrize("name, file, params", [("mnist-cnn", "mnist.npz", 34_826),
                                                ("fashion-cnn", "fashion_mnist.npz", 50_474)])
def test_npz_cnn_config_reads_the_file_from_the_current_folder_and_trains(name, file, params, tmp_path, monkeypatch):
    if not (SHARED / file).is_file():
        pytest.skip(f"{SHARED / file} is absent (the shared data folder is not part of the repository)")
    monkeypatch.chdir(SHARED)  # a shipped example run by name reads its data from the current folder
    raw = config.load(config.find(name))
    assert Path(raw["data"]["path"]).resolve() == (SHARED / file).resolve()  # the cwd may be a symlink
    raw["data"]["limit"] = 300
    run = runs.setup(raw, epochs=1)
    assert run.data.x_train.shape[1:] == (28, 28, 1) and run.data.x_train.dtype.name == "float32"
    assert run.data.x_train.min() >= 0.0 and run.data.x_train.max() <= 1.0  # uint8 pixels / 255
    assert run.model.count_params() == params
    result = runs.train(run, out=tmp_path, verbose=0)
    assert result.metrics["status"] == "completed"
    assert result.metrics["samples"] == {"train": 300, "test": 300}
    assert len(result.history["loss"]) == 1 and 0.0 < result.history["loss"][0] < 10.0
