"""The perceptron (Rosenblatt, 1958): a linear classifier trained by the perceptron trick.

    score   s = w . x + b,  prediction sign(s), labels y in {-1, +1}
    trick   for each training point in turn: if y s <= 0 (a mistake), w += lr y x and b += lr y
    loss    max(0, -y s), the perceptron criterion, averaged over an epoch's visits
    stop    at the first epoch without a mistake (converged) or after ``max_epochs``

On linearly separable data the trick stops after finitely many updates (Novikoff, 1962). On XOR no
line separates the classes, so it never stops; at best it gets 3 of the 4 corners right.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from .._typing import Array
from ..errors import ConfigError, LabelError, ShapeError, StateError


class ConvergenceWarning(UserWarning):
    """An iterative fit stopped before converging."""


class Perceptron:
    """Linear classifier trained online with the perceptron trick (scikit-learn estimator conventions).

    Args:
        learning_rate: Step lr of the update w += lr y x (any lr > 0 gives the same predictions from w = 0).
        max_epochs: Passes over the data before giving up.
        shuffle: Visit the points in a new random order each epoch.
        seed: Seed of the generator that draws those orders.

    Fitted attributes: ``weights`` (d,), ``bias``, ``classes_`` (the two labels as given),
    ``converged_``, ``n_epochs_``, ``n_updates_``, ``loss_history_`` (one mean loss per epoch), and the
    "pocket" ``best_weights_``, ``best_bias_``, ``best_accuracy_``: the end-of-epoch weights with the
    highest training accuracy (on XOR at most 0.75; ``predict`` uses the final ``weights``).
    """

    def __init__(
        self,
        learning_rate: float = 1.0,
        max_epochs: int = 1000,
        shuffle: bool = True,
        seed: int | None = None,
    ) -> None:
        if not (isinstance(learning_rate, (int, float)) and learning_rate > 0):
            raise ConfigError(f"Perceptron: learning_rate must be a number > 0, got {learning_rate!r}")
        if isinstance(max_epochs, bool) or not isinstance(max_epochs, int) or max_epochs < 1:
            raise ConfigError(f"Perceptron: max_epochs must be an integer >= 1, got {max_epochs!r}")
        self.learning_rate = float(learning_rate)
        self.max_epochs = max_epochs
        self.shuffle = bool(shuffle)
        self.seed = seed
        self.weights: Array | None = None
        self.bias = 0.0

    def _signed_labels(self, y: Any) -> Array:
        y = np.asarray(y).reshape(-1)
        classes = np.unique(y)
        if not (set(classes.tolist()) <= {0, 1} or set(classes.tolist()) <= {-1, 1}) or len(classes) > 2:
            raise LabelError(
                f"Perceptron: labels must be {{0, 1}} or {{-1, +1}}, got values {classes[:10].tolist()}; "
                "hint: for more classes use an MLP with a softmax output"
            )
        self.classes_ = np.array([-1, 1]) if -1 in classes else np.array([0, 1])
        return np.where(y > 0, 1.0, -1.0)

    def fit(self, x: Any, y: Any) -> Perceptron:
        """Run the perceptron trick until an epoch makes no mistake or ``max_epochs`` have passed."""
        x = np.asarray(x, dtype=np.float64)
        if x.ndim != 2:
            raise ShapeError(f"Perceptron.fit: x must be 2-D (samples, features), got shape {x.shape}")
        signs = self._signed_labels(y)
        if len(signs) != len(x):
            raise ShapeError(f"Perceptron.fit: x has {len(x)} samples but y has {len(signs)}")
        rng = np.random.default_rng(self.seed)
        self.weights, self.bias = np.zeros(x.shape[1]), 0.0
        self.n_updates_, self.loss_history_, self.converged_ = 0, [], False
        self.best_accuracy_, self.best_weights_, self.best_bias_ = -1.0, self.weights.copy(), 0.0
        for epoch in range(self.max_epochs):
            order = rng.permutation(len(x)) if self.shuffle else np.arange(len(x))
            mistakes, loss_sum = self._epoch(x[order], signs[order])
            self._keep_best(x, signs)
            self.loss_history_.append(loss_sum / len(x))
            self.n_epochs_ = epoch + 1
            if mistakes == 0:
                self.converged_ = True
                break
        if not self.converged_:
            self._warn_not_separable(x, signs)
        return self

    def _epoch(self, x: Array, y: Array) -> tuple[int, float]:
        """One pass of the online rule, identical to visiting points one by one.

        Rather than a Python step per point, score every point not yet visited with the current w, jump
        to the first mistake, update, and rescore from there: one NumPy pass per update.
        """
        assert self.weights is not None
        start, mistakes, loss_sum = 0, 0, 0.0
        while start < len(x):
            margins = y[start:] * (x[start:] @ self.weights + self.bias)
            wrong = np.flatnonzero(margins <= 0)
            stop = int(wrong[0]) + 1 if wrong.size else len(margins)
            loss_sum += float(np.maximum(0.0, -margins[:stop]).sum())
            if not wrong.size:
                break
            i = start + stop - 1
            self.weights += self.learning_rate * y[i] * x[i]
            self.bias += self.learning_rate * float(y[i])
            mistakes += 1
            self.n_updates_ += 1
            start = i + 1
        return mistakes, loss_sum

    def _keep_best(self, x: Array, signs: Array) -> None:
        """The "pocket": remember the end-of-epoch weights with the best training accuracy so far."""
        accuracy = float(np.mean(np.where(self.decision_function(x) > 0, 1.0, -1.0) == signs))
        if accuracy > self.best_accuracy_:
            assert self.weights is not None
            self.best_accuracy_, self.best_weights_, self.best_bias_ = (
                accuracy,
                self.weights.copy(),
                self.bias,
            )

    def _warn_not_separable(self, x: Array, signs: Array) -> None:
        accuracy = float(np.mean(np.where(self.decision_function(x) > 0, 1.0, -1.0) == signs))
        warnings.warn(
            f"Perceptron did not converge in {self.max_epochs} epochs ({self.n_updates_} updates, training "
            f"accuracy {accuracy:.3f}, best at an epoch end {self.best_accuracy_:.3f}): the data are not "
            "linearly separable, so no line (hyperplane) splits the classes and the perceptron trick "
            "never stops; hint: use an MLP with a hidden layer, e.g. Dense(8, activation='tanh') before "
            "the output",
            ConvergenceWarning,
            stacklevel=3,
        )

    def decision_function(self, x: Any) -> Array:
        """Scores s = x w + b; positive means the second class."""
        if self.weights is None:
            raise StateError("Perceptron: call fit(x, y) before predict, score or decision_function")
        x = np.asarray(x, dtype=np.float64)
        if x.ndim != 2 or x.shape[1] != len(self.weights):
            raise ShapeError(f"Perceptron: expected x of shape (n, {len(self.weights)}), got {x.shape}")
        return x @ self.weights + self.bias

    def predict(self, x: Any) -> Array:
        """Labels in the encoding given to ``fit``: ``classes_[1]`` where s > 0, else ``classes_[0]``."""
        return np.where(self.decision_function(x) > 0, self.classes_[1], self.classes_[0])

    def score(self, x: Any, y: Any) -> float:
        """Accuracy: fraction of points whose predicted label equals ``y``."""
        return float(np.mean(self.predict(x) == np.asarray(y).reshape(-1)))

    def __repr__(self) -> str:
        return (
            f"Perceptron(learning_rate={self.learning_rate}, max_epochs={self.max_epochs}, "
            f"shuffle={self.shuffle}, seed={self.seed})"
        )


__all__ = ["ConvergenceWarning", "Perceptron"]
