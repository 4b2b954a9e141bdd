"""Model-level gradient check: a model's loss gradients against central differences, in float64.

For every trainable parameter theta of the model, the analytic gradient is what one training step
computes (forward with ``training=True``, the loss gradient, the model's backward, plus the gradient of
any regularization penalty); the numeric gradient is

    dL/dtheta_i ~ (L(theta_i + eps) - L(theta_i - eps)) / (2 eps),   L = loss(y, model(x)) + penalty.

A tensor whose true gradient is exactly zero (a bias followed by batch normalization) compares two
round-off noises and can show a large relative error; drop such a bias (``use_bias=False``).

The check runs on a float64 copy rebuilt from the model's config (a float32 model's round-off would
swamp the differences), so the model itself is never touched. Random layers (dropout) are reseeded
before every forward pass, so every pass sees the same masks.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .. import backend, losses
from .._typing import Array
from ..errors import ConfigError, StateError
from .gradcheck import GradientReport, check_layer, numeric_gradient, relative_error


def float64_copy(model: Any) -> Any:
    """A float64 model with the same architecture and weights as ``model`` (built, not compiled)."""
    from ..layers import deserialize_layer, serialize_layer

    if not model.built or model.input_shape is None:
        raise StateError(
            f"gradient_check: {model.name!r} is not built; call build(input_shape) or fit/predict once first"
        )
    saved = backend.floatx()
    backend.set_floatx("float64")
    try:
        copy = deserialize_layer(serialize_layer(model))
        if not copy.built:
            copy.build(model.input_shape)
    finally:
        backend.set_floatx(saved)
    for source, target in zip(model.parameters(), copy.parameters(), strict=True):
        target.value = source.value.astype(np.float64)
    return copy


def _loss_and_analytic(model: Any, x: Array, y: Array, seed: int) -> tuple[Any, dict[str, Array]]:
    """A closure computing L, and the analytic gradients from the same path ``train_step`` uses."""
    rng_seed = seed

    def forward(training: bool = True) -> Array:
        model.reseed(np.random.default_rng(rng_seed))
        return np.asarray(model.forward(x, training=training))

    def loss_value() -> float:
        return float(model.loss(y, forward())) + model.regularization_penalty()

    with model.training_session():
        y_pred = forward()
        if model._fused:
            model._backward(model.loss.fused_gradient(y, y_pred), from_preactivation=True)
        else:
            model._backward(model.loss.gradient(y, y_pred), from_preactivation=False)
        model._add_regularization()
    analytic = {p.name: p.grad.copy() for p in model.parameters(trainable_only=True)}
    return loss_value, analytic


def gradient_check(
    model: Any,
    x: Any,
    y: Any = None,
    epsilon: float = 1e-5,
    max_params_per_tensor: int | None = None,
    seed: int = 0,
    threshold: float = 1e-6,
    loss: Any = None,
) -> GradientReport:
    """Compare every trainable parameter's analytic loss gradient with central differences (float64).

    Args:
        model: A built model; compiled, or give ``loss``. A single built layer (not a model) is checked
            like ``check_layer`` (input and parameters, output projected on a random vector), on a
            float64 copy; ``y`` is then not used.
        x, y: A batch of inputs and targets (a few samples suffice).
        epsilon: Step of the central difference.
        max_params_per_tensor: Check only this many entries per tensor, drawn at random (``seed``);
            ``None`` checks every entry.
        seed: Seeds the entry sample and any random layer (dropout masks).
        threshold: ``report.passed`` is ``max relative error < threshold``.

    Returns:
        A ``GradientReport`` whose ``errors`` map each parameter name to
        ||g_num - g_ana|| / max(||g_num|| + ||g_ana||, 1e-12) over the checked entries.
    """
    from ..models import Model

    if not isinstance(model, Model):
        return check_layer(float64_copy(model), x, seed=seed, epsilon=epsilon, threshold=threshold)
    loss_fn = losses.get(loss) if loss is not None else getattr(model, "loss", None)
    if loss_fn is None:
        raise ConfigError(
            f"gradient_check: model {model.name!r} has no loss; compile it or pass "
            "loss='mean_squared_error' (any loss name)"
        )
    if max_params_per_tensor is not None and max_params_per_tensor <= 0:
        raise ConfigError(
            f"gradient_check: max_params_per_tensor must be a positive integer or None, got {max_params_per_tensor!r}"
        )
    copy = float64_copy(model)
    copy.loss = loss_fn
    x64 = np.asarray(x, dtype=np.float64)
    assert copy.output_shape is not None
    y64 = loss_fn.prepare_targets(np.asarray(y), copy.output_shape, np.float64)
    loss_value, analytic = _loss_and_analytic(copy, x64, y64, seed)
    rng = np.random.default_rng(seed)
    report = GradientReport(threshold=threshold)
    for p in copy.parameters(trainable_only=True):
        indices = None
        if max_params_per_tensor is not None and p.size > max_params_per_tensor:
            indices = np.sort(rng.choice(p.size, size=max_params_per_tensor, replace=False))
        numeric = numeric_gradient(loss_value, p.value, epsilon, indices).reshape(-1)
        exact = analytic[p.name].reshape(-1)
        if indices is not None:
            numeric, exact = numeric[indices], exact[indices]
        report.errors[p.name] = relative_error(numeric, exact)
    return report
