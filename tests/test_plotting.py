"""Plots: the confusion matrix against scikit-learn, figures that draw and save without a display."""

from __future__ import annotations

import math

import numpy as np
import pytest

import glassnet as gn
from glassnet.app import plotting

pytest.importorskip("matplotlib", reason='plots need matplotlib: pip install "glassnet[plot]"')


def test_confusion_matrix_matches_scikit_learn(rng):
    metrics = pytest.importorskip("sklearn.metrics")
    y_true = rng.integers(0, 5, size=300)
    y_pred = np.where(rng.random(300) < 0.7, y_true, rng.integers(0, 5, size=300))
    np.testing.assert_array_equal(
        plotting.confusion_matrix(y_true, y_pred, 5),
        metrics.confusion_matrix(y_true, y_pred, labels=range(5)),
    )
    assert plotting.confusion_matrix([0, 2], [2, 2]).shape == (3, 3)  # classes inferred from the labels


def test_figures_draw_and_save_as_png(tmp_path, rng):
    x = rng.normal(size=(50, 2))
    y = (x[:, 0] > 0).astype(int)
    history = {"loss": [1.0, 0.5, 0.25], "val_loss": [1.1, 0.6, 0.4]}
    figures = {
        "history": plotting.plot_history(history, "loss"),
        "confusion": plotting.plot_confusion_matrix(y, 1 - y),
        "boundary": plotting.plot_decision_boundary(lambda g: (g[:, :1] > 0).astype(float), x, y, resolution=30),
        "predictions": plotting.plot_predictions(x[:, 0], x[:, 0] + 0.1),
    }
    legend = [t.get_text() for t in figures["history"].axes[0].get_legend().get_texts()]
    assert legend == ["train loss", "validation loss"]
    for name, fig in figures.items():
        plotting.save_figure(fig, tmp_path / f"{name}.png")
        assert (tmp_path / f"{name}.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_plot_errors_name_the_problem():
    with pytest.raises(gn.ShapeError, match=r"needs 2-D inputs \(n, 2\), got shape \(4, 3\)"):
        plotting.plot_decision_boundary(lambda g: g, np.zeros((4, 3)), np.zeros(4))
    with pytest.raises(gn.ShapeError, match="no 'accuracy' in history; recorded: loss"):
        plotting.plot_history({"loss": [1.0]}, "accuracy")


def test_curves_spanning_many_decades_use_a_log_axis():
    steady = plotting.plot_history({"loss": [1.3, 0.3, 0.05], "val_loss": [0.5, 0.2, 0.06]})
    assert steady.axes[0].get_yscale() == "linear"
    diverging = plotting.plot_history({"loss": [1.0, 5e12, math.inf], "val_loss": [2.0, 1e16, math.inf]})
    axis = diverging.axes[0]
    assert axis.get_yscale() == "log" and axis.get_ylabel() == "loss (log scale)"
    assert axis.get_xlim() == (0.5, 3.5)  # every epoch stays on the axis, even the undrawable inf ones


def test_decision_boundary_legend_names_classes_and_splits(rng):
    x = rng.normal(size=(60, 2))
    y = np.where(x[:, 0] > 0, 1, -1)  # perceptron-style labels

    def sign(grid):
        return np.where(grid[:, 0] > 0, 1, -1)

    fig = plotting.plot_decision_boundary(sign, x[:40], y[:40], resolution=20, x_test=x[40:], y_test=y[40:])
    labels = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert labels == ["class -1", "class 1", "train", "test"]
    alone = plotting.plot_decision_boundary(sign, x, y, resolution=20)
    assert [t.get_text() for t in alone.axes[0].get_legend().get_texts()] == ["class -1", "class 1"]
