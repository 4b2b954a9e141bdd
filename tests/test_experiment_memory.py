"""Experiment 7 (app/experiments/memory.py): long memory, SimpleRNN vs LSTM vs GRU, gradient through time."""

from __future__ import annotations

import numpy as np
import pytest

from glassnet.app.experiments.core import NAMES, run_experiment
from glassnet.app.experiments.memory import make_data, memory, run_cell

pytest.importorskip("matplotlib")


def test_the_label_is_the_first_tokens_class(rng):
    x, y = make_data(50, 9, rng)
    assert x.shape == (50, 9, 8) and x.dtype == np.float32
    np.testing.assert_array_equal(x[:, 0].argmax(axis=1), y)
    assert (x[:, 1:].argmax(axis=2) >= 4).all()  # distractors never look like a class symbol


def test_a_small_run_writes_its_table_and_figure(tmp_path):
    result = memory(tmp_path, lengths=(6, 9), epochs=2, n_train=200)
    assert "memory" in NAMES
    assert [row[0] for row in result.rows] == [6, 9] and len(result.columns) == 7
    assert all(0.0 <= acc <= 1.0 for row in result.rows for acc in row[1:4])
    assert result.figure is not None and result.figure.stat().st_size > 5000
    assert "diagnose (last epoch)" in result.notes[-1]


def test_gradient_curves_have_one_positive_norm_per_step():
    r = run_cell("SimpleRNN", 7, epochs=1, n_train=100)
    assert len(r["grad_before"]) == len(r["grad_after"]) == 7
    assert all(g > 0 for g in r["grad_before"])


@pytest.mark.slow
def test_default_run_lstm_remembers_and_the_failing_gru_is_diagnosed(tmp_path):
    """The short default run (T = 10, 50; 10 epochs; ~40 s on the shared 2-core machine)."""
    result = run_experiment("memory", tmp_path)
    by_t = {row[0]: row for row in result.rows}
    assert min(by_t[10][1:4]) > 0.95
    assert by_t[50][2] > 0.95  # LSTM at T = 50
    assert by_t[50][3] < 0.4  # GRU at T = 50 (zero bias: z = 0.5 halves the carried state each step)
    assert "GRU at T = 50" in result.notes[-1] and "LSTM at T" not in result.notes[-1]
