"""Loss functions: ``loss(y_true, y_pred) -> float`` and ``loss.gradient(y_true, y_pred) -> dL/dy_pred``.

Reductions (Keras and PyTorch agree): MSE, MAE, Huber, binary cross-entropy, perceptron and hinge
average over every element; the categorical cross-entropies sum over the class axis and average over
samples. N below is that averaging count.

    mse        L = mean (p - y)^2                               dL/dp = 2 (p - y) / N
    mae        L = mean |p - y|                                 dL/dp = sign(p - y) / N
    huber      L = mean(e^2/2 if |e| <= d else d(|e| - d/2))    dL/dp = clip(e, -d, d) / N
    bce        L = -mean(y log p + (1 - y) log(1 - p))          dL/dp = (p - y) / (p (1 - p)) / N
    cce        L = -(1/N) sum y log p                           dL/dp = -y / p / N
    perceptron L = mean max(0, -y s)                            dL/ds = -y [y s <= 0] / N
    hinge      L = mean max(0, 1 - y s)                         dL/ds = -y [y s < 1] / N

Probabilities are clipped to [1e-7, 1 - 1e-7]. With ``from_logits=True`` the cross-entropies take
logits z and use log-sum-exp forms that stay finite for any z. When a sigmoid (softmax) output layer
feeds its binary (categorical) cross-entropy, the model fuses the two and uses the stable
dL/dz = (p - y) / N instead of multiplying the two Jacobians; for softmax with categorical targets whose
rows need not sum to 1 (soft or weighted targets) it is dL/dz = (p sum_c y - y) / N, as with logits.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ._registry import family
from ._typing import Array
from .errors import LabelError, ShapeError

EPSILON = 1e-7


def _n_elements(y_pred: Array) -> int:
    return max(1, int(y_pred.size))


def _n_samples(y_pred: Array) -> int:
    return max(1, int(y_pred.size // y_pred.shape[-1])) if y_pred.ndim else 1


def _clip_probability(p: Array) -> Array:
    """min(max(p, EPSILON), 1 - EPSILON), the values of np.clip in two ufunc calls (np.clip adds about
    0.6 us of Python dispatch per call, which counts on a 32-row batch)."""
    out = np.maximum(p, EPSILON)
    return np.minimum(out, 1 - EPSILON, out=out)


def _shape_only(shape: tuple[int, ...]) -> Array:
    """A read-only zero array of ``shape`` that takes no memory (for shape checks)."""
    return np.broadcast_to(np.zeros((), dtype=np.float64), shape)


def _row_mean(each: Array) -> Array:
    """The mean over every axis but the first (the samples): per-sample losses l_i."""
    return each.reshape(len(each), -1).mean(axis=1) if each.ndim > 1 else each


def _log_softmax(z: Array) -> Array:
    shifted = z - z.max(axis=-1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))


def _softmax(z: Array) -> Array:
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def _sigmoid(z: Array) -> Array:
    e = np.exp(-np.abs(z))
    return np.where(z >= 0, 1 / (1 + e), e / (1 + e))


class Loss:
    """Base class. ``fused_activation`` names the output activation this loss can fuse with."""

    name = "loss"
    fused_activation: str | None = None

    def __call__(self, y_true: Any, y_pred: Array) -> float:
        return float(self.value(self._align(y_true, y_pred), y_pred))

    def value(self, y_true: Array, y_pred: Array) -> Any:
        raise NotImplementedError

    def gradient(self, y_true: Any, y_pred: Array) -> Array:
        """dL/dy_pred, same shape and dtype as ``y_pred``."""
        return self._gradient(self._align(y_true, y_pred), y_pred)

    def _gradient(self, y_true: Array, y_pred: Array) -> Array:
        raise NotImplementedError

    def fused_gradient(self, y_true: Any, y_pred: Array) -> Array:
        """dL/dz where ``y_pred = fused_activation(z)``: (p - y) / N."""
        y = self._align(y_true, y_pred)
        return (y_pred - y) * (1.0 / self._count(y_pred))

    def fused_value(self, y_true: Any, y_pred: Array) -> float:
        """The loss whose exact gradient with respect to z (``y_pred = fused_activation(z)``) is
        ``fused_gradient``: the value without clipping p at EPSILON (clipped only at the dtype's smallest
        normal number, to stay finite). Gradient checks of a fused model differentiate this."""
        raise NotImplementedError(f"{self.name} has no fused activation")

    def _count(self, y_pred: Array) -> int:
        return _n_elements(y_pred)

    def per_sample(self, y_true: Any, y_pred: Array) -> Array:
        """l_i, the loss of each sample (shape (N,)): ``value`` is their mean (``models.weighting``)."""
        raise NotImplementedError(f"{self.name} does not define per-sample losses; hint: implement "
                                  "per_sample(y_true, y_pred) to train it with sample_weight or class_weight")

    def prepare_targets(self, y_true: Any, output_shape: tuple[int, ...], dtype: Any) -> Array:
        """Check and convert a whole target array once (before training) to the form the loss uses."""
        y = np.asarray(y_true)
        if y.ndim == len(output_shape) and output_shape[-1:] == (1,):
            y = y.reshape(y.shape + (1,))
        if y.shape[1:] != tuple(output_shape):
            raise ShapeError(
                f"{self.name}: targets of shape {y.shape} do not match the model output (batch, "
                f"{', '.join(map(str, output_shape))}); hint: the last layer's units must equal the target width"
            )
        return np.asarray(y, dtype=dtype)

    def _align(self, y_true: Any, y_pred: Array) -> Array:
        y = np.asarray(y_true)
        if y.shape != y_pred.shape:
            if y.ndim == y_pred.ndim - 1 and y_pred.shape[-1] == 1 and y.shape == y_pred.shape[:-1]:
                y = y.reshape(y_pred.shape)
            else:
                raise ShapeError(f"{self.name}: y_true shape {y.shape} does not match y_pred shape {y_pred.shape}")
        return y.astype(y_pred.dtype, copy=False)

    def get_config(self) -> dict[str, Any]:
        return {}

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{type(self).__name__}({args})"


class MeanSquaredError(Loss):
    """L = mean (p - y)^2; dL/dp = 2 (p - y) / N."""

    name = "mean_squared_error"

    def value(self, y_true: Array, y_pred: Array) -> Any:
        e = y_pred - y_true
        return np.vdot(e, e) / _n_elements(y_pred)

    def _gradient(self, y_true: Array, y_pred: Array) -> Array:
        return (y_pred - y_true) * (2.0 / _n_elements(y_pred))

    def per_sample(self, y_true: Any, y_pred: Array) -> Array:
        return _row_mean(np.square(y_pred - self._align(y_true, y_pred)))


class MeanAbsoluteError(Loss):
    """L = mean |p - y|; dL/dp = sign(p - y) / N."""

    name = "mean_absolute_error"

    def value(self, y_true: Array, y_pred: Array) -> Any:
        return np.abs(y_pred - y_true).mean()

    def _gradient(self, y_true: Array, y_pred: Array) -> Array:
        return np.sign(y_pred - y_true) * (1.0 / _n_elements(y_pred))

    def per_sample(self, y_true: Any, y_pred: Array) -> Array:
        return _row_mean(np.abs(y_pred - self._align(y_true, y_pred)))


class Huber(Loss):
    """L = mean(e^2 / 2 if |e| <= delta else delta (|e| - delta / 2)), e = p - y; dL/dp = clip(e) / N."""

    name = "huber"

    def __init__(self, delta: float = 1.0) -> None:
        if not float(delta) > 0:
            raise ValueError(f"huber delta must be > 0, got {delta!r}")
        self.delta = float(delta)

    def value(self, y_true: Array, y_pred: Array) -> Any:
        e = np.abs(y_pred - y_true)
        quadratic = np.minimum(e, self.delta)
        return (0.5 * quadratic * quadratic + self.delta * (e - quadratic)).mean()

    def _gradient(self, y_true: Array, y_pred: Array) -> Array:
        return np.clip(y_pred - y_true, -self.delta, self.delta) * (1.0 / _n_elements(y_pred))

    def per_sample(self, y_true: Any, y_pred: Array) -> Array:
        e = np.abs(y_pred - self._align(y_true, y_pred))
        quadratic = np.minimum(e, self.delta)
        return _row_mean(0.5 * quadratic * quadratic + self.delta * (e - quadratic))

    def get_config(self) -> dict[str, Any]:
        return {"delta": self.delta}


class BinaryCrossentropy(Loss):
    """L = -mean(y log p + (1 - y) log(1 - p)); with logits z: mean(max(z, 0) - z y + log(1 + e^-|z|))."""

    name = "binary_crossentropy"

    def __init__(self, from_logits: bool = False) -> None:
        self.from_logits = bool(from_logits)
        self.fused_activation = None if self.from_logits else "sigmoid"

    def value(self, y_true: Array, y_pred: Array) -> Any:
        if self.from_logits:
            z = y_pred
            return (np.maximum(z, 0) - z * y_true + np.log1p(np.exp(-np.abs(z)))).mean()
        p = _clip_probability(y_pred)
        # two dot products instead of four elementwise passes and a mean: this runs at every step
        return -(np.vdot(y_true, np.log(p)) + np.vdot(1 - y_true, np.log1p(-p))) / _n_elements(y_pred)

    def fused_value(self, y_true: Any, y_pred: Array) -> float:
        y, tiny = self._align(y_true, y_pred), np.finfo(y_pred.dtype).tiny
        logs = np.vdot(y, np.log(np.maximum(y_pred, tiny))) + np.vdot(1 - y, np.log(np.maximum(1 - y_pred, tiny)))
        return -float(logs) / _n_elements(y_pred)

    def per_sample(self, y_true: Any, y_pred: Array) -> Array:
        y = self._align(y_true, y_pred)
        if self.from_logits:
            return _row_mean(np.maximum(y_pred, 0) - y_pred * y + np.log1p(np.exp(-np.abs(y_pred))))
        p = _clip_probability(y_pred)
        return -_row_mean(y * np.log(p) + (1 - y) * np.log1p(-p))

    def _gradient(self, y_true: Array, y_pred: Array) -> Array:
        n = _n_elements(y_pred)
        if self.from_logits:
            return (_sigmoid(y_pred) - y_true) * (1.0 / n)
        inside = (y_pred >= EPSILON) & (y_pred <= 1 - EPSILON)  # clipping has zero slope outside
        p = _clip_probability(y_pred)
        return (p - y_true) / (p * (1 - p)) * inside * (1.0 / n)

    def prepare_targets(self, y_true: Any, output_shape: tuple[int, ...], dtype: Any) -> Array:
        y = super().prepare_targets(y_true, output_shape, dtype)
        if y.size and (y.min() < 0 or y.max() > 1):
            raise LabelError(
                f"binary_crossentropy: targets must lie in [0, 1], got values in [{y.min()}, {y.max()}]; "
                "hint: for several classes use sparse_categorical_crossentropy"
            )
        return y

    def get_config(self) -> dict[str, Any]:
        return {"from_logits": self.from_logits}


class CategoricalCrossentropy(Loss):
    """L = -(1/N) sum_n sum_c y_nc log p_nc over one-hot (or soft) targets; logits use log-softmax."""

    name = "categorical_crossentropy"

    def __init__(self, from_logits: bool = False) -> None:
        self.from_logits = bool(from_logits)
        self.fused_activation = None if self.from_logits else "softmax"

    def _count(self, y_pred: Array) -> int:
        return _n_samples(y_pred)

    def value(self, y_true: Array, y_pred: Array) -> Any:
        logp = _log_softmax(y_pred) if self.from_logits else np.log(_clip_probability(y_pred))
        return -float(np.vdot(y_true, logp)) / _n_samples(y_pred)

    def fused_value(self, y_true: Any, y_pred: Array) -> float:
        y = self._align(y_true, y_pred)
        return -float(np.vdot(y, np.log(np.maximum(y_pred, np.finfo(y_pred.dtype).tiny)))) / _n_samples(y_pred)

    def per_sample(self, y_true: Any, y_pred: Array) -> Array:
        logp = _log_softmax(y_pred) if self.from_logits else np.log(_clip_probability(y_pred))
        return -_row_mean((self._align(y_true, y_pred) * logp).sum(axis=-1))

    def _gradient(self, y_true: Array, y_pred: Array) -> Array:
        n = _n_samples(y_pred)
        if self.from_logits:
            return (_softmax(y_pred) * y_true.sum(axis=-1, keepdims=True) - y_true) * (1.0 / n)
        inside = (y_pred >= EPSILON) & (y_pred <= 1 - EPSILON)
        return -y_true / _clip_probability(y_pred) * inside * (1.0 / n)

    def fused_gradient(self, y_true: Any, y_pred: Array) -> Array:
        """dL/dz for p = softmax(z): (p sum_c y - y) / N, the gradient of the value this loss reports for
        any targets (it is (p - y) / N only when every row of y sums to 1)."""
        y = self._align(y_true, y_pred)
        grad = y_pred * y.sum(axis=-1, keepdims=True)
        grad -= y
        grad *= 1.0 / self._count(y_pred)
        return grad

    def _align(self, y_true: Any, y_pred: Array) -> Array:
        y = np.asarray(y_true)
        if y.ndim == y_pred.ndim - 1 and y.shape == y_pred.shape[:-1] and y_pred.shape[-1] > 1:
            raise LabelError(
                f"categorical_crossentropy expects one-hot targets of shape {y_pred.shape}, got integer labels "
                f"of shape {y.shape}; hint: use loss='sparse_categorical_crossentropy', or one-hot them with "
                "gn.preprocessing.to_categorical"
            )
        return super()._align(y, y_pred)

    def prepare_targets(self, y_true: Any, output_shape: tuple[int, ...], dtype: Any) -> Array:
        y = np.asarray(y_true)
        if y.ndim == len(output_shape) and output_shape[-1] > 1:
            self._align(y, _shape_only((len(y),) + tuple(output_shape)))  # raises the integer-label error
        y = super().prepare_targets(y, output_shape, dtype)
        _check_distributions(y)
        return y

    def get_config(self) -> dict[str, Any]:
        return {"from_logits": self.from_logits}


class SparseCategoricalCrossentropy(Loss):
    """L = -(1/N) sum_n log p_{n, y_n} over integer labels y_n in [0, C); logits use log-softmax."""

    name = "sparse_categorical_crossentropy"

    def __init__(self, from_logits: bool = False) -> None:
        self.from_logits = bool(from_logits)
        self.fused_activation = None if self.from_logits else "softmax"

    def _count(self, y_pred: Array) -> int:
        return _n_samples(y_pred)

    def _labels(self, y_true: Any, y_pred: Array) -> Array:
        y = np.asarray(y_true)
        if y.shape == y_pred.shape and y_pred.shape[-1] > 1:
            raise LabelError(
                f"sparse_categorical_crossentropy expects integer labels of shape {y_pred.shape[:-1]}, got "
                f"one-hot targets of shape {y.shape}; hint: use loss='categorical_crossentropy', or pass "
                "y.argmax(axis=-1)"
            )
        if y.shape == y_pred.shape[:-1] + (1,) and y_pred.shape[-1] > 1:
            y = y.reshape(y_pred.shape[:-1])
        if y.shape != y_pred.shape[:-1]:
            raise ShapeError(
                f"sparse_categorical_crossentropy: labels of shape {y.shape} do not match predictions of shape "
                f"{y_pred.shape}; expected labels of shape {y_pred.shape[:-1]}"
            )
        return y.reshape(-1).astype(np.intp, copy=False)

    def _picked(self, labels: Array, flat: Array) -> Array:
        return flat[np.arange(flat.shape[0]), labels]

    def value(self, y_true: Array, y_pred: Array) -> Any:
        flat = y_pred.reshape(-1, y_pred.shape[-1])
        if self.from_logits:
            shifted = flat - flat.max(axis=-1, keepdims=True)
            logsum = np.log(np.exp(shifted).sum(axis=-1))
            return (logsum - self._picked(y_true, shifted)).mean()
        return -np.log(_clip_probability(self._picked(y_true, flat))).mean()

    def __call__(self, y_true: Any, y_pred: Array) -> float:
        return float(self.value(self._labels(y_true, y_pred), y_pred))

    def per_sample(self, y_true: Any, y_pred: Array) -> Array:
        flat = y_pred.reshape(-1, y_pred.shape[-1])
        labels = self._labels(y_true, y_pred)
        if self.from_logits:
            shifted = flat - flat.max(axis=-1, keepdims=True)
            each = np.log(np.exp(shifted).sum(axis=-1)) - self._picked(labels, shifted)
        else:
            each = -np.log(_clip_probability(self._picked(labels, flat)))
        return _row_mean(each.reshape(y_pred.shape[:-1]) if y_pred.ndim > 1 else each)

    def fused_value(self, y_true: Any, y_pred: Array) -> float:
        picked = self._picked(self._labels(y_true, y_pred), y_pred.reshape(-1, y_pred.shape[-1]))
        return -float(np.log(np.maximum(picked, np.finfo(y_pred.dtype).tiny)).mean())

    def gradient(self, y_true: Any, y_pred: Array) -> Array:
        labels = self._labels(y_true, y_pred)
        flat = y_pred.reshape(-1, y_pred.shape[-1])
        n = flat.shape[0]
        rows = np.arange(n)
        if self.from_logits:
            grad = _softmax(flat)
            grad[rows, labels] -= 1
            grad *= 1.0 / n
        else:
            picked = flat[rows, labels]
            inside = (picked >= EPSILON) & (picked <= 1 - EPSILON)
            grad = np.zeros_like(flat)
            grad[rows, labels] = inside * (-1.0 / n) / _clip_probability(picked)
        return grad.reshape(y_pred.shape)

    def fused_gradient(self, y_true: Any, y_pred: Array) -> Array:
        labels = self._labels(y_true, y_pred)
        flat = y_pred.reshape(-1, y_pred.shape[-1])
        n = flat.shape[0]
        grad = flat * (1.0 / n)
        grad[np.arange(n), labels] -= 1.0 / n
        return grad.reshape(y_pred.shape)

    def prepare_targets(self, y_true: Any, output_shape: tuple[int, ...], dtype: Any) -> Array:
        y = np.asarray(y_true)
        n_classes = output_shape[-1]
        labels = self._labels(y, _shape_only((len(y),) + tuple(output_shape)))
        if labels.size and not np.issubdtype(y.dtype, np.integer) and not np.all(labels == y.reshape(-1)):
            raise LabelError("sparse_categorical_crossentropy: labels must be whole numbers (class indices)")
        if labels.size and (labels.min() < 0 or labels.max() >= n_classes):
            raise LabelError(
                f"sparse_categorical_crossentropy: labels must lie in [0, {n_classes}), got values in "
                f"[{labels.min()}, {labels.max()}]; hint: the last layer needs one unit per class"
            )
        return labels.reshape(y.shape[:1] + tuple(output_shape[:-1]))

    def get_config(self) -> dict[str, Any]:
        return {"from_logits": self.from_logits}


def _check_distributions(y: Array) -> None:
    """Categorical targets (checked once, before training): values in [0, 1], rows summing to 1 (within 1e-3).

    The loss itself takes any targets (``fused_gradient``), but in ``fit`` a row outside this set is a bug
    in the data; weighing samples is ``fit(sample_weight=...)``.
    """
    if not y.size:
        return
    low, high = float(y.min()), float(y.max())
    if low < 0 or high > 1:
        raise LabelError(f"categorical_crossentropy: targets must lie in [0, 1], got values in [{low}, {high}]; "
                         "hint: for integer class labels use sparse_categorical_crossentropy; to weigh samples "
                         "pass fit(sample_weight=...)")
    sums = y.reshape(-1, y.shape[-1]).sum(axis=1, dtype=np.float64)
    bad = np.flatnonzero(np.abs(sums - 1.0) > 1e-3)
    if bad.size:
        raise LabelError(f"categorical_crossentropy: each target row must sum to 1 over the classes, but {bad.size} "
                         f"row(s) do not (row {int(bad[0])} sums to {sums[bad[0]]:.6g}); hint: one-hot encode the "
                         "labels (gn.preprocessing.to_categorical); to weigh samples pass fit(sample_weight=...)")


def _signed(y_true: Array) -> Array:
    """Map labels {0, 1} or {-1, +1} to {-1, +1}."""
    return np.where(y_true > 0, 1, -1).astype(y_true.dtype)


class Perceptron(Loss):
    """Perceptron criterion L = mean max(0, -y s), labels in {-1, +1} (or {0, 1}), s the raw score."""

    name = "perceptron"

    def value(self, y_true: Array, y_pred: Array) -> Any:
        return np.maximum(0, -_signed(y_true) * y_pred).mean()

    def per_sample(self, y_true: Any, y_pred: Array) -> Array:
        return _row_mean(np.maximum(0, -_signed(self._align(y_true, y_pred)) * y_pred))

    def _gradient(self, y_true: Array, y_pred: Array) -> Array:
        y = _signed(y_true)
        return np.where(y * y_pred <= 0, -y, 0).astype(y_pred.dtype) * (1.0 / _n_elements(y_pred))


class Hinge(Loss):
    """L = mean max(0, 1 - y s), labels in {-1, +1} (or {0, 1}); dL/ds = -y [y s < 1] / N."""

    name = "hinge"

    def value(self, y_true: Array, y_pred: Array) -> Any:
        return np.maximum(0, 1 - _signed(y_true) * y_pred).mean()

    def per_sample(self, y_true: Any, y_pred: Array) -> Array:
        return _row_mean(np.maximum(0, 1 - _signed(self._align(y_true, y_pred)) * y_pred))

    def _gradient(self, y_true: Array, y_pred: Array) -> Array:
        y = _signed(y_true)
        return np.where(y * y_pred < 1, -y, 0).astype(y_pred.dtype) * (1.0 / _n_elements(y_pred))


LOSSES = family("loss", Loss)
LOSSES.register(MeanSquaredError, "mse", "mean_squared_error")
LOSSES.register(MeanAbsoluteError, "mae", "mean_absolute_error")
LOSSES.register(Huber, "huber")
LOSSES.register(BinaryCrossentropy, "binary_crossentropy", "bce")
LOSSES.register(CategoricalCrossentropy, "categorical_crossentropy", "cce")
LOSSES.register(SparseCategoricalCrossentropy, "sparse_categorical_crossentropy")
LOSSES.register(Perceptron, "perceptron")
LOSSES.register(Hinge, "hinge")


def get(identifier: Any) -> Loss:
    """Resolve a name such as ``"mse"``, a config dict or a ``Loss``."""
    return LOSSES.get(identifier)


def names() -> list[str]:
    return LOSSES.names()


__all__ = ["BinaryCrossentropy", "CategoricalCrossentropy", "Hinge", "Huber", "Loss", "MeanAbsoluteError",
           "MeanSquaredError", "Perceptron", "SparseCategoricalCrossentropy", "get", "names"]
