"""Metrics: accuracy for integer, one-hot and binary labels; streaming means of mae and mse."""

from __future__ import annotations

import numpy as np
import pytest

import glassnet as gn


def test_accuracy_uses_argmax_with_integer_or_one_hot_labels():
    p = np.array([[0.1, 0.9], [0.8, 0.2], [0.3, 0.7]])
    acc = gn.metrics.Accuracy()
    assert acc(np.array([1, 0, 0]), p) == pytest.approx(2 / 3)
    assert acc(np.eye(2)[[1, 0, 0]], p) == pytest.approx(2 / 3)


def test_binary_accuracy_thresholds_probabilities_at_one_half_and_logits_at_zero():
    y = np.array([[1], [0], [1], [0]])
    assert gn.metrics.Accuracy()(y, np.array([[0.6], [0.4], [0.2], [0.7]])) == 0.5
    assert gn.metrics.Accuracy(threshold=0.0)(np.array([1, -1, 1, 0]), np.array([[2.0], [-1.0], [-0.5], [0.3]])) == 0.5


def test_compile_picks_the_logit_threshold_for_from_logits_losses():
    model = gn.Sequential([gn.layers.Dense(1)])
    model.compile(optimizer="sgd", loss=gn.losses.BinaryCrossentropy(from_logits=True), metrics=["accuracy"])
    assert model.metrics[0].threshold == 0.0
    model = gn.Sequential([gn.layers.Dense(1, activation="sigmoid")])  # probabilities (a linear output is refused)
    model.compile(optimizer="sgd", loss="binary_crossentropy", metrics=["accuracy"])
    assert model.metrics[0].threshold == 0.5


def test_streaming_mae_and_mse_weight_batches_by_size():
    y, p = np.arange(10.0).reshape(-1, 1), np.arange(10.0).reshape(-1, 1) + np.linspace(-1, 1, 10).reshape(-1, 1)
    cases = [(gn.metrics.get("mae"), np.abs(p - y).mean()), (gn.metrics.get("mse"), ((p - y) ** 2).mean())]
    for metric, expected in cases:
        metric.reset()
        metric.update(y[:7], p[:7])
        metric.update(y[7:], p[7:])
        assert metric.result() == pytest.approx(expected)


def test_evaluate_matches_metrics_computed_by_hand(rng):
    model = gn.Sequential([gn.layers.Input(shape=(3,)), gn.layers.Dense(4, activation="softmax")])
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    x = rng.normal(size=(50, 3)).astype(np.float32)
    y = rng.integers(0, 4, size=50)
    p = model.predict(x)
    result = model.evaluate(x, y, batch_size=16)
    assert result["accuracy"] == pytest.approx(np.mean(p.argmax(1) == y))
    assert result["loss"] == pytest.approx(-np.mean(np.log(p[np.arange(50), y])), rel=1e-5)
