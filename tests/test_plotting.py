"""Plots: the confusion matrix against scikit-learn, figures that draw and save without a display."""

from __future__ import annotations

import numpy as np
import pytest

import glassnet as gn
from glassnet import plotting

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
