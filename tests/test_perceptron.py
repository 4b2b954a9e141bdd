"""The perceptron: convergence on separable data, failure on XOR, and the online rule written out."""

from __future__ import annotations

import numpy as np
import pytest

import glassnet as gn
from glassnet.models.perceptron import ConvergenceWarning


def reference_perceptron(x, y, lr, max_epochs, shuffle, seed):
    """The textbook online rule, one point at a time (deliberately the slow, obvious loop)."""
    signs = np.where(y > 0, 1.0, -1.0)
    rng = np.random.default_rng(seed)
    w, b, updates, losses = np.zeros(x.shape[1]), 0.0, 0, []
    for _ in range(max_epochs):
        order = rng.permutation(len(x)) if shuffle else np.arange(len(x))
        mistakes, total = 0, 0.0
        for i in order:
            margin = signs[i] * (x[i] @ w + b)
            total += max(0.0, -margin)
            if margin <= 0:
                w = w + lr * signs[i] * x[i]
                b = b + lr * signs[i]
                mistakes += 1
                updates += 1
        losses.append(total / len(x))
        if mistakes == 0:
            break
    return w, b, updates, losses


def test_converges_on_separable_blobs():
    x, y = gn.datasets.make_blobs(n_samples=300, noise=1.5, seed=3)
    model = gn.Perceptron(seed=0).fit(x, y)
    assert model.converged_
    assert model.score(x, y) == 1.0
    assert model.n_updates_ > 0
    assert model.loss_history_[-1] == 0.0
    assert model.n_epochs_ == len(model.loss_history_) < 1000
    assert model.best_accuracy_ == 1.0
    np.testing.assert_array_equal(model.best_weights_, model.weights)


def test_fails_on_xor_and_warns():
    x, y = gn.datasets.make_xor(n_samples=4, noise=0.0, seed=0)
    with pytest.warns(ConvergenceWarning, match="not linearly separable") as record:
        model = gn.Perceptron(max_epochs=200, seed=0).fit(x, y)
    assert "MLP" in str(record[0].message)
    assert not model.converged_
    assert model.score(x, y) <= 0.75
    assert model.n_epochs_ == 200 and len(model.loss_history_) == 200
    assert min(model.loss_history_) > 0  # every epoch makes a mistake
    assert model.best_accuracy_ == 0.75  # the best any line can do: 3 of the 4 corners
    best = np.where(x @ model.best_weights_ + model.best_bias_ > 0, 1, 0)
    assert np.mean(best == y) == 0.75


@pytest.mark.parametrize("shuffle", [False, True])
def test_matches_the_point_by_point_rule(shuffle):
    rng = np.random.default_rng(5)
    x = rng.normal(size=(60, 3))
    y = (x[:, 0] + 0.5 * x[:, 1] ** 2 > 0.3).astype(int)  # not linearly separable: never converges
    with pytest.warns(ConvergenceWarning):
        model = gn.Perceptron(learning_rate=0.5, max_epochs=25, shuffle=shuffle, seed=11).fit(x, y)
    w, b, updates, losses = reference_perceptron(x, y, 0.5, 25, shuffle, 11)
    np.testing.assert_allclose(model.weights, w, rtol=1e-12, atol=1e-12)
    assert model.bias == pytest.approx(b, abs=1e-12)
    assert model.n_updates_ == updates
    np.testing.assert_allclose(model.loss_history_, losses, rtol=1e-12)


def test_learning_rate_only_scales_the_weights():
    x, y = gn.datasets.make_blobs(n_samples=100, noise=2.0, seed=1)
    a = gn.Perceptron(learning_rate=1.0, seed=2).fit(x, y)
    b = gn.Perceptron(learning_rate=0.01, seed=2).fit(x, y)
    np.testing.assert_allclose(b.weights, 0.01 * a.weights, rtol=1e-10)
    np.testing.assert_array_equal(a.predict(x), b.predict(x))


def test_signed_labels_come_back_signed():
    x, y = gn.datasets.make_blobs(n_samples=50, seed=4)
    signed = np.where(y == 1, 1, -1)
    model = gn.Perceptron(seed=0).fit(x, signed)
    assert set(np.unique(model.predict(x))) <= {-1, 1}
    assert model.score(x, signed) == 1.0
    np.testing.assert_array_equal(model.predict(x) == 1, gn.Perceptron(seed=0).fit(x, y).predict(x) == 1)


def test_errors_name_the_problem():
    with pytest.raises(gn.LabelError, match=r"\{0, 1\} or \{-1, \+1\}"):
        gn.Perceptron().fit(np.zeros((3, 2)), [0, 1, 2])
    with pytest.raises(gn.StateError, match="fit"):
        gn.Perceptron().predict(np.zeros((1, 2)))
    with pytest.raises(gn.ConfigError, match="max_epochs"):
        gn.Perceptron(max_epochs=0)
    model = gn.Perceptron().fit(np.eye(2), [0, 1])
    with pytest.raises(gn.ShapeError, match=r"\(n, 2\)"):
        model.predict(np.zeros((1, 3)))
