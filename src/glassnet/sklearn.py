"""scikit-learn estimators around glassnet models: ``GlassnetClassifier`` and ``GlassnetRegressor``.

    from glassnet.sklearn import GlassnetClassifier
    clf = GlassnetClassifier(hidden_layer_sizes=(64,), epochs=50, random_state=0).fit(x, y)
    clf.predict_proba(x_new)              # in a Pipeline, GridSearchCV, cross_val_score, ...

Either the hyperparameters of an MLP, named as in ``sklearn.neural_network.MLPClassifier``
(``hidden_layer_sizes``, ``activation``, ``alpha`` (an L2 penalty), ``batch_size="auto"`` = min(200, n),
``early_stopping``, ``validation_fraction``, ``random_state``), plus glassnet's ``optimizer``,
``learning_rate`` and ``epochs``; or ``model``: a function returning a compiled glassnet model (it
may take the keyword arguments ``n_features_in``, ``n_outputs`` and ``n_classes``), or an unfitted
model, which is copied for every fit. Needs the extra ``glassnet[sklearn]``.
"""

from __future__ import annotations

import copy
import inspect
from typing import Any

import numpy as np

from ._typing import Array
from .errors import MissingDependencyError

try:
    from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
    from sklearn.utils import check_random_state
    from sklearn.utils.multiclass import check_classification_targets
    from sklearn.utils.validation import check_is_fitted, validate_data
except ImportError as exc:  # pragma: no cover - exercised only without the extra
    raise MissingDependencyError(
        "glassnet.sklearn needs scikit-learn; install it with: pip install 'glassnet[sklearn]'"
    ) from exc

from . import backend, layers, optimizers, regularizers
from .callbacks import EarlyStopping
from .models import Sequential


class _GlassnetEstimator(BaseEstimator):
    """What the classifier and the regressor share: the network, its training and its fitted state."""

    _loss = "mse"
    _output_activation: str | None = None

    def __init__(
        self,
        hidden_layer_sizes: tuple[int, ...] = (100,),
        activation: str = "relu",
        optimizer: str = "adam",
        learning_rate: float = 0.001,
        epochs: int = 200,
        batch_size: int | str = "auto",
        alpha: float = 0.0001,
        early_stopping: bool = False,
        validation_fraction: float = 0.1,
        n_iter_no_change: int = 10,
        random_state: Any = None,
        model: Any = None,
        verbose: int = 0,
    ) -> None:
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.optimizer = optimizer
        self.learning_rate = learning_rate
        self.epochs = epochs
        self.batch_size = batch_size
        self.alpha = alpha
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.n_iter_no_change = n_iter_no_change
        self.random_state = random_state
        self.model = model
        self.verbose = verbose

    # -- the network -----------------------------------------------------------------------------
    def _seed(self) -> int:
        return int(check_random_state(self.random_state).randint(2**31 - 1))

    def _batch(self, n_samples: int) -> int:
        return min(200, n_samples) if self.batch_size == "auto" else int(self.batch_size)

    def _mlp(self, n_features: int, n_outputs: int, loss: str, batch: int) -> Sequential:
        sizes = (self.hidden_layer_sizes,) if isinstance(self.hidden_layer_sizes, int) else self.hidden_layer_sizes
        # scikit-learn adds alpha / (2 batch) ||W||^2 to each batch's mean loss; glassnet's L2(l) adds l ||W||^2
        penalty = regularizers.L2(self.alpha / (2.0 * batch)) if self.alpha else None
        hidden = [
            layers.Dense(int(units), activation=self.activation, kernel_regularizer=penalty) for units in sizes
        ]
        model = Sequential([layers.Input(shape=(n_features,)), *hidden,
                            layers.Dense(n_outputs, activation=self._output_activation)])
        optimizer = optimizers.get(self.optimizer)
        optimizer.learning_rate = float(self.learning_rate)
        model.compile(optimizer=optimizer, loss=loss)
        return model

    def _build(self, n_features: int, n_outputs: int, n_classes: int | None, loss: str, n_samples: int) -> Any:
        with backend.using_generator(np.random.default_rng(self._seed())):
            if self.model is None:
                return self._mlp(n_features, n_outputs, loss, self._batch(n_samples))
            if callable(self.model) and not hasattr(self.model, "fit"):
                meta = {"n_features_in": n_features, "n_outputs": n_outputs, "n_classes": n_classes}
                accepted = inspect.signature(self.model).parameters
                model = self.model(**{k: v for k, v in meta.items() if k in accepted})
            else:
                model = copy.deepcopy(self.model)
        if getattr(model, "loss", None) is None:
            raise ValueError(f"{type(self).__name__}: model must be compiled (model.compile(optimizer=..., "
                             f"loss=...)), got {model!r}")
        return model

    def _train(self, x: Array, y: Array, epochs: int, seed: int) -> None:
        batch = self._batch(len(x))
        callbacks = []
        split = 0.0
        if self.early_stopping and int(len(x) * self.validation_fraction) > 0:
            split = float(self.validation_fraction)
            callbacks.append(EarlyStopping(monitor="val_loss", patience=int(self.n_iter_no_change),
                                           restore_best_weights=True))
        history = self.model_.fit(x, y, epochs=epochs, batch_size=batch, validation_split=split,
                                  callbacks=callbacks, verbose=self.verbose, seed=seed)
        self.history_ = {k: list(v) for k, v in getattr(self, "history_", {}).items()}
        for key, values in history.history.items():
            self.history_.setdefault(key, []).extend(values)
        self.n_iter_ = len(self.history_.get("loss", []))

    def _features(self, x: Any, reset: bool) -> Array:
        x = validate_data(self, x, reset=reset, dtype=[np.float32, np.float64])
        return np.asarray(x, dtype=self._dtype())

    def _dtype(self) -> str:
        return backend.floatx()

    def _outputs(self, x: Any) -> Array:
        check_is_fitted(self, "model_")
        return np.asarray(self.model_.predict(self._features(x, reset=False)), dtype=np.float64)


class GlassnetClassifier(ClassifierMixin, _GlassnetEstimator):
    """A glassnet network as a scikit-learn classifier: softmax (or one sigmoid unit for two classes)
    trained with cross-entropy. Fitted: ``classes_``, ``n_features_in_``, ``model_``, ``history_``."""

    def fit(self, X: Any, y: Any) -> GlassnetClassifier:
        """Train a new network on (X, y) for ``epochs`` epochs (fewer with early stopping)."""
        x, y = validate_data(self, X, y, dtype=[np.float32, np.float64], y_numeric=False)
        check_classification_targets(y)
        self.classes_ = np.unique(y)
        self._start(x.shape)
        self._train(x.astype(self._dtype()), self._encode(y), int(self.epochs), self._seed())
        return self

    def partial_fit(self, X: Any, y: Any, classes: Any = None) -> GlassnetClassifier:
        """One epoch on (X, y); the first call needs ``classes`` (every label that will ever appear)."""
        first = not hasattr(self, "model_")
        x, y = validate_data(self, X, y, dtype=[np.float32, np.float64], reset=first)
        check_classification_targets(y)
        if first:
            if classes is None:
                raise ValueError("GlassnetClassifier.partial_fit: the first call needs classes=[...], every label "
                                 "that can appear (as in scikit-learn's SGDClassifier)")
            self.classes_ = np.unique(np.asarray(classes))
            self._start(x.shape)
        self._train(x.astype(self._dtype()), self._encode(y), 1, self._seed())
        return self

    def _start(self, shape: tuple[int, ...]) -> None:
        k = len(self.classes_)
        if k < 2:
            raise ValueError(f"GlassnetClassifier needs samples of at least 2 classes, got 1 class: {self.classes_}")
        binary = k == 2
        self._output_activation = "sigmoid" if binary else "softmax"
        loss = "binary_crossentropy" if binary else "sparse_categorical_crossentropy"
        self.model_ = self._build(shape[1], 1 if binary else k, k, loss, shape[0])
        self.history_ = {}

    def _encode(self, y: Array) -> Array:
        index = np.searchsorted(self.classes_, y)
        if np.any(index >= len(self.classes_)) or np.any(self.classes_[np.minimum(index, len(self.classes_) - 1)] != y):
            unknown = sorted(set(np.asarray(y).tolist()) - set(self.classes_.tolist()))
            raise ValueError(f"GlassnetClassifier: labels {unknown} are not among classes_ {self.classes_.tolist()}")
        return index.reshape(-1, 1).astype(np.int64) if len(self.classes_) == 2 else index.astype(np.int64)

    def predict_proba(self, X: Any) -> Array:
        """Class probabilities (n_samples, n_classes), columns in the order of ``classes_``."""
        check_is_fitted(self, "model_")
        out = self._outputs(X)
        if len(self.classes_) == 2:
            p = out.reshape(-1)
            return np.column_stack([1.0 - p, p])
        return out

    def predict(self, X: Any) -> Array:
        """The most probable class of each sample."""
        check_is_fitted(self, "model_")
        return self.classes_[np.argmax(self.predict_proba(X), axis=1)]


class GlassnetRegressor(RegressorMixin, _GlassnetEstimator):
    """A glassnet network as a scikit-learn regressor: linear outputs trained with mean squared error."""

    def fit(self, X: Any, y: Any) -> GlassnetRegressor:
        """Train a new network on (X, y)."""
        x, y = validate_data(self, X, y, dtype=[np.float32, np.float64], multi_output=True, y_numeric=True)
        self._start(x.shape, y)
        self._train(x.astype(self._dtype()), self._targets(y), int(self.epochs), self._seed())
        return self

    def partial_fit(self, X: Any, y: Any) -> GlassnetRegressor:
        """One epoch on (X, y)."""
        first = not hasattr(self, "model_")
        x, y = validate_data(self, X, y, dtype=[np.float32, np.float64], multi_output=True, y_numeric=True,
                             reset=first)
        if first:
            self._start(x.shape, y)
        self._train(x.astype(self._dtype()), self._targets(y), 1, self._seed())
        return self

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True  # one linear output unit per target column
        return tags

    def _start(self, shape: tuple[int, ...], y: Array) -> None:
        self._y_1d = np.ndim(y) == 1
        n_outputs = 1 if self._y_1d else int(np.shape(y)[1])
        self.model_ = self._build(shape[1], n_outputs, None, "mse", shape[0])
        self.history_ = {}

    def _targets(self, y: Array) -> Array:
        return np.asarray(y, dtype=self._dtype()).reshape(len(y), -1)

    def predict(self, X: Any) -> Array:
        """Predicted targets: (n_samples,) when fitted on a 1-D y, else (n_samples, n_outputs)."""
        out = self._outputs(X)
        return out.reshape(-1) if self._y_1d else out


__all__ = ["GlassnetClassifier", "GlassnetRegressor"]
