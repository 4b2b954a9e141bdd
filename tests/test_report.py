"""Report helpers and run-folder files as people and other programs read them."""

from __future__ import annotations

import json
import math

import numpy as np

from glassnet.app.report import Report, format_number, format_seconds, plural, render
from glassnet.app.run_files import write_json
from glassnet.app.runs import diverged_at


def test_numbers_read_well_at_every_magnitude():
    assert format_number(0.97214) == "0.9721"
    assert format_number(0.0) == "0.0000"
    assert format_number(12.5) == "12.5000"
    assert format_number(5.1023555e33) == "5.1024e+33"  # a diverged metric stays one short cell
    assert format_number(-2.5e-7) == "-2.5000e-07"
    assert format_number(math.inf) == "inf" and format_number(math.nan) == "nan"
    assert format_number(np.float32(0.5)) == "0.5000"


def test_durations_and_plurals():
    assert format_seconds(0.0734) == "73 ms"
    assert format_seconds(2.414) == "2.41 s"
    assert format_seconds(83.25) == "83.2 s"
    assert plural(1, "layer") == "1 layer" and plural(3, "layer") == "3 layers"
    assert plural(4810, "parameter") == "4,810 parameters"


def test_metrics_json_is_strict_json(tmp_path):
    path = tmp_path / "metrics.json"
    write_json(path, {"train": {"loss": math.inf, "mae": 2.0}, "test": {"loss": math.nan}, "n": [1, math.inf]})

    def refuse(constant):
        raise AssertionError(f"non-standard JSON constant {constant}")

    data = json.loads(path.read_text(), parse_constant=refuse)
    assert data == {"train": {"loss": None, "mae": 2.0}, "test": {"loss": None}, "n": [1, None]}


def test_divergence_is_found_in_training_or_validation_loss():
    assert diverged_at({"loss": [1.0, 0.5], "val_loss": [1.0, 0.6]}) is None
    assert diverged_at({"loss": [1.0, math.inf, math.nan]}) == 2
    assert diverged_at({"loss": [1.0, 2.0, 3.0], "val_loss": [1.0, 2.0, math.nan]}) == 3


def test_a_warning_comes_first_in_the_report():
    report = Report(
        title="t",
        summary={"run": "r"},
        metrics={"test": {"loss": math.inf}},
        config_text="",
        warning="training diverged <here>",
    )
    text = render(report)
    assert text.index('class="warning"') < text.index("<h2>Summary</h2>")
    assert "training diverged &lt;here&gt;" in text  # escaped
    assert '<td class="num">inf</td>' in text
    assert 'class="warning"' not in render(Report(title="t", summary={}, metrics={}, config_text=""))
