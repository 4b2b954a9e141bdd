"""Numeric gradient checks: central differences in float64 against a layer's hand-written backward.

For a layer f, a fixed random projection r turns the output into a scalar L = sum(r * f(x)). Then
dL/dy = r, the analytic gradients come from ``backward(r)``, and each numeric gradient entry is

    dL/dtheta_i ~ (L(theta_i + eps) - L(theta_i - eps)) / (2 eps)

The error of a tensor is ||g_num - g_ana|| / max(||g_num|| + ||g_ana||, 1e-12), norms over the whole
tensor, so a tiny entry cannot fail a correct layer through round-off.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .._typing import Array


def relative_error(numeric: Array, analytic: Array) -> float:
    """||numeric - analytic|| / max(||numeric|| + ||analytic||, 1e-12)."""
    diff = float(np.linalg.norm(np.ravel(numeric - analytic)))
    scale = float(np.linalg.norm(np.ravel(numeric)) + np.linalg.norm(np.ravel(analytic)))
    return diff / max(scale, 1e-12)


def numeric_gradient(
    f: Callable[[], float], array: Array, epsilon: float = 1e-6, indices: Array | None = None
) -> Array:
    """Central-difference gradient of ``f()`` with respect to ``array`` (perturbed in place)."""
    grad = np.zeros(array.shape, dtype=np.float64)
    flat, grad_flat = array.reshape(-1), grad.reshape(-1)
    for i in range(flat.size) if indices is None else indices:
        saved = flat[i]
        flat[i] = saved + epsilon
        plus = f()
        flat[i] = saved - epsilon
        minus = f()
        flat[i] = saved
        grad_flat[i] = (plus - minus) / (2 * epsilon)
    return grad


@dataclass
class GradientReport:
    """Relative error per checked tensor (``"input"`` and each parameter name)."""

    errors: dict[str, float] = field(default_factory=dict)
    threshold: float = 1e-6

    @property
    def max_relative_error(self) -> float:
        return max(self.errors.values(), default=0.0)

    @property
    def passed(self) -> bool:
        return self.max_relative_error < self.threshold

    def __str__(self) -> str:
        width = max((len(k) for k in self.errors), default=6) + 2
        lines = [f"{'tensor'.ljust(width)}relative error", "-" * (width + 16)]
        for name, err in self.errors.items():
            flag = "" if err < self.threshold else "   <-- FAILED"
            lines.append(f"{name.ljust(width)}{err:.3e}{flag}")
        lines.append(f"{'passed' if self.passed else 'FAILED'} (threshold {self.threshold:g})")
        return "\n".join(lines)


def check_layer(
    layer: Any,
    x: Array | list[Array],
    seed: int = 0,
    epsilon: float = 1e-6,
    threshold: float = 1e-6,
    check_input: bool = True,
    before_forward: Callable[[], None] | None = None,
) -> GradientReport:
    """Check ``layer.backward`` (input and every parameter) against central differences, in float64.

    ``x`` may be a list of arrays for a layer (or graph model) with several inputs, whose ``backward``
    returns one gradient per input; they are reported as ``"input[k]"``. ``before_forward`` runs before
    each forward pass (e.g. to re-seed a dropout mask so every pass sees the same mask).
    """
    several = isinstance(x, (list, tuple))
    xs = [np.array(a, dtype=np.float64) for a in (x if several else [x])]
    rng = np.random.default_rng(seed)

    def forward() -> Array:
        if before_forward is not None:
            before_forward()
        return np.asarray(layer.forward(xs if several else xs[0], training=True), dtype=np.float64)

    projection = rng.normal(size=forward().shape)

    def loss() -> float:
        return float(np.sum(projection * forward()))

    forward()
    grads = layer.backward(projection.copy())
    analytic = {p.name or f"param{i}": p.grad.astype(np.float64).copy() for i, p in enumerate(layer.parameters())}
    report = GradientReport(threshold=threshold)
    if check_input and grads is not None:
        grads = list(grads) if several else [grads]
        if len(grads) != len(xs):
            raise ValueError(f"{type(layer).__name__}.backward returned {len(grads)} gradients for {len(xs)} inputs")
        for k, (a, grad) in enumerate(zip(xs, grads)):
            name = f"input[{k}]" if several else "input"
            report.errors[name] = relative_error(numeric_gradient(loss, a, epsilon), grad)
    for i, p in enumerate(layer.parameters()):
        if not p.trainable:
            continue
        name = p.name or f"param{i}"
        report.errors[name] = relative_error(numeric_gradient(loss, p.value, epsilon), analytic[name])
    return report


def check_loss(
    loss: Any, y_true: Array, y_pred: Array, epsilon: float = 1e-6, threshold: float = 1e-6
) -> GradientReport:
    """Check ``loss.gradient`` against central differences of ``loss(y_true, y_pred)`` in float64."""
    y_pred = np.array(y_pred, dtype=np.float64)
    numeric = numeric_gradient(lambda: float(loss(y_true, y_pred)), y_pred, epsilon)
    report = GradientReport(threshold=threshold)
    report.errors["y_pred"] = relative_error(numeric, loss.gradient(y_true, y_pred))
    return report


def check_multi_input_layer(
    layer: Any,
    xs: list[Array],
    seed: int = 0,
    epsilon: float = 1e-6,
    threshold: float = 1e-6,
    check_input: bool = True,
) -> GradientReport:
    """``check_layer`` for a layer (or graph model) that takes a list of inputs (``"input[k]"``)."""
    return check_layer(layer, list(xs), seed=seed, epsilon=epsilon, threshold=threshold, check_input=check_input)
