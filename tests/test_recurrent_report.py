"""The run report's "Gradient through time" section (app/recurrent_report.py), through a real run."""

from __future__ import annotations

import csv

import pytest

from glassnet.app import run_report, runs
from glassnet.app.recurrent_report import gradient_through_time_section

pytest.importorskip("matplotlib")


def _config(cell: dict, epochs: int = 2) -> dict:
    return {
        "data": {"name": "digits", "limit": 120},  # 8 x 8 images as 8 steps of 8 features
        "model": {"layers": [cell, {"type": "Dense", "units": 10, "activation": "softmax"}]},
        "training": {"epochs": epochs},
    }


def test_a_recurrent_run_gets_the_section_its_plot_and_csv(tmp_path):
    assert gradient_through_time_section in run_report.SECTION_PROVIDERS
    result = runs.train(runs.setup(_config({"type": "LSTM", "units": 6})), out=tmp_path, verbose=0)
    page = (result.run_dir / "report.html").read_text()
    assert "<h2>Gradient through time</h2>" in page
    assert (result.run_dir / "plots" / "gradient_through_time.png").stat().st_size > 0
    with open(result.run_dir / "state_grads.csv") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 2 * 8  # 2 monitored epochs x 8 steps
    assert [int(r["t"]) for r in rows[:8]] == list(range(1, 9))
    assert all(float(r["grad_norm"]) > 0 for r in rows)


def test_the_section_repeats_a_through_time_finding(tmp_path):
    cell = {
        "type": "SimpleRNN",
        "units": 6,
        "recurrent_initializer": {"class_name": "Orthogonal", "config": {"gain": 0.01}},
    }
    result = runs.train(runs.setup(_config(cell, epochs=1)), out=tmp_path, verbose=0)
    page = (result.run_dir / "report.html").read_text()
    assert "vanishing gradients through time</strong>" in page


def test_runs_without_recurrent_layers_get_no_section(tmp_path):
    result = runs.train(runs.setup(_config({"type": "Flatten"}, epochs=1)), out=tmp_path, verbose=0)
    assert "Gradient through time" not in (result.run_dir / "report.html").read_text()
    assert not (result.run_dir / "state_grads.csv").exists()
