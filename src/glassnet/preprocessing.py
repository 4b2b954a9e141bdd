"""Feature scaling and data helpers (scikit-learn conventions: fit returns self, fitted state ends in _).

    MinMaxScaler    x' = (x - min) / (max - min) * (high - low) + low, per feature
    StandardScaler  x' = (x - mean) / std, per feature (std with 1/n, as scikit-learn)

Fit on the training data only, then transform training, validation and test data with the same
statistics. A constant feature has its range or std replaced by 1, as scikit-learn does, so it maps to
``low`` (MinMaxScaler) or 0 (StandardScaler) instead of dividing by zero. Statistics are accumulated
and stored in float64 (they are one vector per feature); ``transform`` returns the input's float dtype.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from . import backend
from ._registry import family
from ._typing import Array
from .errors import ConfigError, LabelError, NonFiniteError, ShapeError, StateError

_EPS64 = float(np.finfo(np.float64).eps)


def _as_float(x: Any, who: str) -> Array:
    """x as a 2-D float array: float inputs keep their dtype, others become ``floatx()``."""
    array = np.asarray(x)
    if not np.issubdtype(array.dtype, np.floating):
        array = array.astype(backend.floatx())
    if array.ndim != 2:
        raise ShapeError(
            f"{who}: expected a 2-D array (samples, features), got shape {array.shape}; "
            "hint: use x.reshape(-1, 1) for a single feature"
        )
    return array


class _Scaler:
    """Shared fit_transform, fitted-state and feature-count checks."""

    _fitted_attribute = "scale_"

    def fit(self, x: Any) -> _Scaler:
        raise NotImplementedError

    def transform(self, x: Any) -> Array:
        raise NotImplementedError

    def fit_transform(self, x: Any) -> Array:
        """``fit(x).transform(x)``."""
        return self.fit(x).transform(x)

    def _fit_input(self, x: Any) -> Array:
        array = _as_float(x, f"{type(self).__name__}.fit")
        if len(array) == 0:
            raise ShapeError(f"{type(self).__name__}.fit: needs at least one sample, got shape {array.shape}")
        if not np.isfinite(array).all():
            raise NonFiniteError(
                f"{type(self).__name__}.fit: x holds NaN or Inf; hint: impute or drop them first"
            )
        self.n_features_in_ = array.shape[1]
        self.n_samples_seen_ = array.shape[0]
        return array

    def _check_fitted(self, x: Any, method: str) -> Array:
        who = f"{type(self).__name__}.{method}"
        if not hasattr(self, self._fitted_attribute):
            raise StateError(
                f"{who}: this scaler is not fitted yet; call fit(x_train) first "
                "(fit on the training data only, then transform every split)"
            )
        array = _as_float(x, who)
        if array.shape[1] != self.n_features_in_:
            raise ShapeError(
                f"{who}: expected {self.n_features_in_} features (as in fit), got {array.shape[1]} "
                f"in an array of shape {array.shape}"
            )
        return array


class MinMaxScaler(_Scaler):
    """x' = x * scale_ + min_, i.e. (x - data_min_) / (data_max_ - data_min_) * (high - low) + low.

    Fitted: ``data_min_``, ``data_max_``, ``data_range_``, ``scale_`` = (high - low) / data_range_ (a
    range below 10 machine epsilons counts as 1), ``min_`` = low - data_min_ * scale_.
    """

    def __init__(self, feature_range: tuple[float, float] = (0.0, 1.0)) -> None:
        low, high = (float(v) for v in feature_range)
        if not low < high:
            raise ConfigError(
                f"MinMaxScaler: feature_range must be (low, high) with low < high, got {feature_range!r}"
            )
        self.feature_range = (low, high)

    def fit(self, x: Any) -> MinMaxScaler:
        """Learn each feature's minimum and maximum from ``x`` (samples, features)."""
        array = self._fit_input(x)
        self.data_min_ = array.min(axis=0).astype(np.float64)
        self.data_max_ = array.max(axis=0).astype(np.float64)
        self.data_range_ = self.data_max_ - self.data_min_
        low, high = self.feature_range
        range_ = np.where(self.data_range_ < 10 * _EPS64, 1.0, self.data_range_)
        self.scale_ = (high - low) / range_
        self.min_ = low - self.data_min_ * self.scale_
        return self

    def transform(self, x: Any) -> Array:
        array = self._check_fitted(x, "transform")
        out = array * self.scale_.astype(array.dtype)
        out += self.min_.astype(array.dtype)
        return out

    def inverse_transform(self, x: Any) -> Array:
        """(x' - min_) / scale_: back to the original units."""
        array = self._check_fitted(x, "inverse_transform")
        out = array - self.min_.astype(array.dtype)
        out /= self.scale_.astype(array.dtype)
        return out


class StandardScaler(_Scaler):
    """x' = (x - mean_) / scale_ with scale_ = sqrt(var_) (variance with 1/n).

    A feature counts as constant when its variance is within round-off of zero,
    var <= n * eps * var + (n * mean * eps)**2 (eps of float64); its ``scale_`` is then 1.
    ``with_mean=False`` / ``with_std=False`` skip centring / scaling.
    """

    def __init__(self, with_mean: bool = True, with_std: bool = True) -> None:
        self.with_mean = bool(with_mean)
        self.with_std = bool(with_std)

    def fit(self, x: Any) -> StandardScaler:
        """Learn each feature's mean and standard deviation from ``x`` (samples, features)."""
        array = self._fit_input(x)
        n = float(len(array))
        self.mean_ = array.mean(axis=0, dtype=np.float64)
        centred = array - self.mean_  # float64: one-off, for an accurate variance
        self.var_ = np.einsum("ij,ij->j", centred, centred) / n
        constant = self.var_ <= n * _EPS64 * self.var_ + (n * self.mean_ * _EPS64) ** 2
        self.scale_ = (
            np.where(constant, 1.0, np.sqrt(self.var_)) if self.with_std else np.ones_like(self.var_)
        )
        if not self.with_mean:
            self.mean_ = np.zeros_like(self.mean_)
        return self

    def transform(self, x: Any) -> Array:
        array = self._check_fitted(x, "transform")
        out = array - self.mean_.astype(array.dtype)
        out /= self.scale_.astype(array.dtype)
        return out

    def inverse_transform(self, x: Any) -> Array:
        """x' * scale_ + mean_: back to the original units."""
        array = self._check_fitted(x, "inverse_transform")
        out = array * self.scale_.astype(array.dtype)
        out += self.mean_.astype(array.dtype)
        return out


def to_categorical(y: Any, num_classes: int | None = None) -> Array:
    """One-hot encode integer labels: out[i, y[i]] = 1, dtype ``floatx()``.

    ``y`` of shape (n,) or (n, 1) gives (n, num_classes); ``num_classes`` defaults to max(y) + 1.
    """
    labels = np.asarray(y)
    if labels.ndim >= 2 and labels.shape[-1] == 1:
        labels = labels.reshape(labels.shape[:-1])
    integral = np.issubdtype(labels.dtype, np.integer) or (
        np.issubdtype(labels.dtype, np.floating) and bool(np.all(labels == np.round(labels)))
    )
    if labels.size and not integral:
        raise LabelError(
            f"to_categorical: labels must be integers 0..num_classes-1, got dtype "
            f"{labels.dtype} with values such as {labels.ravel()[:3].tolist()}"
        )
    labels = labels.astype(np.int64)
    if num_classes is None:
        num_classes = int(labels.max()) + 1 if labels.size else 0
    elif isinstance(num_classes, bool) or not isinstance(num_classes, (int, np.integer)) or num_classes < 1:
        raise ConfigError(f"to_categorical: num_classes must be a positive integer, got {num_classes!r}")
    if labels.size and (labels.min() < 0 or labels.max() >= num_classes):
        raise LabelError(
            f"to_categorical: labels must lie in [0, {num_classes - 1}], got values from "
            f"{int(labels.min())} to {int(labels.max())}; hint: pass num_classes or remap the labels"
        )
    out = np.zeros(labels.shape + (int(num_classes),), dtype=backend.floatx())
    np.put_along_axis(out, labels[..., None], 1.0, axis=-1)
    return out


def train_test_split(
    x: Any,
    y: Any,
    test_size: float | int = 0.25,
    seed: int | np.random.Generator | None = None,
    shuffle: bool = True,
) -> tuple[Array, Array, Array, Array]:
    """Split into ``(x_train, x_test, y_train, y_test)`` (scikit-learn's order).

    ``test_size`` is a fraction in (0, 1) (the test set gets ceil(test_size * n) samples) or a count.
    With ``shuffle`` the samples are permuted by a generator seeded with ``seed``; without it the
    last samples form the test set.
    """
    x_arr, y_arr = np.asarray(x), np.asarray(y)
    n = len(x_arr)
    if len(y_arr) != n:
        raise ShapeError(f"train_test_split: x has {n} samples but y has {len(y_arr)}; they must match")
    n_test = _test_count(test_size, n)
    if shuffle:
        order = backend.make_generator(seed).permutation(n)
        test, train = order[:n_test], order[n_test:]
        return x_arr[train], x_arr[test], y_arr[train], y_arr[test]
    cut = n - n_test
    return x_arr[:cut], x_arr[cut:], y_arr[:cut], y_arr[cut:]


def _test_count(test_size: float | int, n: int) -> int:
    if isinstance(test_size, (int, np.integer)) and not isinstance(test_size, bool):
        n_test = int(test_size)
    elif isinstance(test_size, float) and 0.0 < test_size < 1.0:
        n_test = math.ceil(test_size * n)
    else:
        raise ConfigError(
            f"train_test_split: test_size must be a fraction in (0, 1) or a sample count, got {test_size!r}"
        )
    if not 0 < n_test < n:
        raise ConfigError(
            f"train_test_split: test_size={test_size!r} leaves {n_test} test and {n - n_test} "
            f"training samples out of {n}; both must be at least 1"
        )
    return n_test


SCALERS = family("scaler", _Scaler)
SCALERS.register(MinMaxScaler, "min_max", "minmax", "min_max_scaler")
SCALERS.register(StandardScaler, "standard", "standard_scaler")

def add_noise(x: Any, kind: str = "gaussian", amount: float = 0.1, seed: int | np.random.Generator | None = None,
              clip: tuple[float, float] | None = (0.0, 1.0)) -> Array:
    """A noisy copy of ``x`` for denoising autoencoders (the original is not changed).

        kind="gaussian"  x' = x + amount * eps, eps ~ N(0, 1) per entry
        kind="masking"   x' = x * m, each entry zeroed (m = 0) with probability ``amount``

    then clipped to ``clip`` (``None``: not clipped). Floats keep their dtype, other inputs become
    ``floatx()``. ``seed``: an int or ``np.random.Generator`` (``None`` draws from glassnet's default).
    """
    array = np.asarray(x)
    if not np.issubdtype(array.dtype, np.floating):
        array = array.astype(backend.floatx())
    amount = float(amount)
    rng = backend.make_generator(seed)
    if kind == "gaussian":
        if not (math.isfinite(amount) and amount >= 0):
            raise ConfigError(f"add_noise: amount (the noise stddev) must be a finite number >= 0, got {amount!r}")
        noisy = rng.standard_normal(array.shape, dtype=array.dtype.type)
        noisy *= array.dtype.type(amount)
        noisy += array
    elif kind == "masking":
        if not 0.0 <= amount <= 1.0:
            raise ConfigError(f"add_noise: amount (the fraction of entries zeroed) must be in [0, 1], got {amount!r}")
        noisy = array * (rng.random(array.shape) >= amount)
    else:
        raise ConfigError(f"add_noise: unknown kind {kind!r}; valid: 'gaussian', 'masking'")
    if clip is not None:
        low, high = clip
        np.clip(noisy, low, high, out=noisy)
    return noisy.astype(array.dtype, copy=False)


__all__ = ["SCALERS", "MinMaxScaler", "StandardScaler", "add_noise", "to_categorical", "train_test_split"]
