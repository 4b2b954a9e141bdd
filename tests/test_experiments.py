"""The six experiments run, write their figure and table, and show the notes' claims in their numbers."""

from __future__ import annotations

import math

import numpy as np
import pytest

from glassnet.app.experiments.core import NAMES, run_experiment


@pytest.fixture(scope="module")
def out(tmp_path_factory):  # type: ignore[no-untyped-def]
    return tmp_path_factory.mktemp("experiments")


def _run(name, out):  # type: ignore[no-untyped-def]
    result = run_experiment(name, out)
    assert result.figure is not None and result.figure.stat().st_size > 5000
    assert (out / f"{name}.md").read_text().startswith(f"# Experiment {NAMES.index(name) + 1}")
    return result


def test_vanishing_each_sigmoid_layer_shrinks_the_gradient_within_its_bound(out):
    result = _run("vanishing", out)
    sigmoid = np.array([row[1] for row in result.rows])
    relu = np.array([row[2] for row in result.rows])
    for _, _, _, shrink, bound in result.rows[1:]:
        assert shrink <= bound  # ||dL/da_(i-1)|| <= 0.25 ||W_i||_2 ||dL/da_i|| for sigmoid layers
    assert sigmoid[0] / sigmoid[-1] < 1e-6
    assert 0.1 < relu[0] / relu[-1] < 10
    assert "sigmoid: accuracy" in result.notes[1] and "findings: vanishing gradients" in result.notes[1]
    assert result.notes[2].endswith("findings: none")


def test_exploding_gradients_grow_toward_the_input_and_clipping_trains(out):
    result = _run("exploding", out)
    big = [row[1] for row in result.rows]
    xavier = [row[2] for row in result.rows]
    assert all(a > b for a, b in zip(big, big[1:], strict=False))  # grows layer by layer toward the input
    assert big[0] / big[-1] > 50 and xavier[0] / xavier[-1] < 3
    plain, clipped = result.notes[1], result.notes[2]
    assert "final loss nan" in plain and "exploding gradients" in plain
    assert "findings: none" in clipped
    accuracy = float(clipped.split("accuracy ")[1].split(",")[0])
    assert accuracy > 0.5


def test_dying_relu_kills_relu_units_and_not_leaky_ones(out):
    result = _run("dying_relu", out)
    relu, leaky = result.rows
    assert relu[1] > 0.5 and "dying ReLU" in relu[-1]
    assert leaky[1:4] == [0.0, 0.0, 0.0] and leaky[-1] == "none"


def test_initialization_std_per_layer(out):
    result = _run("initialization", out)
    columns = {name: [row[i] for row in result.rows] for i, name in enumerate(result.columns)}
    assert all(0.5 < s < 2.0 for s in columns["relu He"])
    assert columns["relu N(0, 1)"][-1] > 1e6
    assert columns["relu Xavier"][-1] < 0.1 < columns["relu Xavier"][0]
    assert min(columns["tanh N(0, 1)"]) > 0.9  # saturated at +-1
    assert columns["tanh Xavier"][-1] < columns["tanh Xavier"][0]


def test_robust_losses_ignore_the_outliers(out):
    result = _run("losses", out)
    fits = {row[0]: row for row in result.rows}
    mse, mae, huber = fits["mean_squared_error"], fits["mean_absolute_error"], fits["huber"]
    assert abs(mae[1] - 3) < abs(mse[1] - 3) and abs(huber[1] - 3) < abs(mse[1] - 3)
    assert max(mae[3], huber[3]) < 0.1 * mse[3]


@pytest.mark.slow
def test_activations_on_the_same_deep_net(out):
    result = _run("activations", out)
    rows = {row[0]: row for row in result.rows}
    assert list(rows) == ["sigmoid", "tanh", "relu", "leaky_relu", "elu", "selu"]
    assert rows["relu"][2] > 0.9 and rows["relu"][4] == "none"
    assert rows["sigmoid"][4] == "vanishing gradients"
    for row in result.rows:  # a run that fails to learn is explained by a finding
        if not (math.isfinite(row[1]) and row[2] > 0.5):
            assert row[4] != "none", row
