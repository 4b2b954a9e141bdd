"""Model-level gradient check: a model's loss gradients against central differences, in float64.

For every trainable parameter theta of the model, the analytic gradient is exactly what one training
step computes, ``Model.compute_loss_and_gradients`` (training-mode forward, each output's loss -- fused
with its sigmoid/softmax where ``fit`` fuses it -- times its weight, backward, each penalty's gradient);
the numeric gradient is that of the same function, ``Model.training_objective``:

    dJ/dtheta_i ~ (J(theta_i + eps) - J(theta_i - eps)) / (2 eps),   J = sum_k w_k L_k + penalties,

where a fused output's L_k is the unclipped cross-entropy whose exact gradient the fused head computes.

A tensor whose true gradient is exactly zero (a bias followed by batch normalization) compares two
round-off noises and can show a large relative error; drop such a bias (``use_bias=False``).

The check runs on a float64 deep copy of the model (``copy.deepcopy``, every parameter cast to float64;
no serialization, so unregistered user layers, several inputs and outputs and nested models work), so
the model itself is never touched. Random layers (dropout) are reseeded before every forward pass, so
every pass sees the same masks.
"""

from __future__ import annotations

import copy
from typing import Any

import numpy as np

from .. import optimizers
from ..errors import ConfigError, StateError
from ..layers.base import Layer
from .gradcheck import GradientReport, check_layer, numeric_gradient, relative_error


def float64_copy(layer: Any) -> Any:
    """A float64 deep copy of a built layer or model: same structure, weights and compile settings.

    The copy's parameters are fresh float64 arrays (a model's are packed again into float64 buffers);
    its history and optimizer are not copied (a model gets a plain SGD, which the check never steps).
    """
    from ..models import Model

    if not layer.built or layer.input_shape is None:
        raise StateError(
            f"gradient_check: {layer.name!r} is not built; call build(input_shape) or fit/predict once first"
        )
    skipped = [getattr(layer, name, None) for name in ("history", "optimizer")]
    twin = copy.deepcopy(layer, {id(obj): None for obj in skipped if obj is not None})
    for sub in _layers_within(twin):
        sub.dtype = "float64"
        sub.cache = {}
        for param in sub._params.values():
            param._value = np.array(param.value, dtype=np.float64)  # a fresh array, bound to no pack
            param._grad = None
            param._pack = None
        if isinstance(sub, Model):
            sub._pack = None
    if isinstance(twin, Model):
        twin.pack()
        if twin.optimizer is None and getattr(layer, "optimizer", None) is not None:
            twin.optimizer = optimizers.SGD()
    return twin


def _layers_within(layer: Layer) -> list[Layer]:
    found = [layer]
    for sub in getattr(layer, "layers", []):
        found += _layers_within(sub)
    return found


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
        model: A built model (any layers, several inputs/outputs); compiled, or give ``loss`` (a list or
            dict by output name for several outputs). A single built layer (not a model) is checked
            like ``check_layer`` (input and parameters, output projected on a random vector), on a
            float64 copy; ``y`` is then not used.
        x, y: A batch of inputs and targets (a few samples suffice), in the forms ``fit`` takes.
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
    from ..models.training import prepare_xy

    if not isinstance(model, Model):
        return check_layer(float64_copy(model), x, seed=seed, epsilon=epsilon, threshold=threshold)
    if loss is None and getattr(model, "loss", None) is None:
        raise ConfigError(
            f"gradient_check: model {model.name!r} has no loss; compile it or pass "
            "loss='mean_squared_error' (any loss name; a list or dict for several outputs)"
        )
    if max_params_per_tensor is not None and max_params_per_tensor <= 0:
        raise ConfigError(
            f"gradient_check: max_params_per_tensor must be a positive integer or None, got {max_params_per_tensor!r}"
        )
    twin = float64_copy(model)
    if loss is not None:
        twin.compile(optimizer=optimizers.SGD(), loss=loss)
    x64, y64 = prepare_xy(twin, x, y)
    with twin.training_session():
        twin.reseed(np.random.default_rng(seed))
        twin.compute_loss_and_gradients(x64, y64)
        analytic = {p.name: p.grad.copy() for p in twin.parameters(trainable_only=True)}

        def objective() -> float:
            twin.reseed(np.random.default_rng(seed))
            return twin.training_objective(x64, y64)

        rng = np.random.default_rng(seed)
        report = GradientReport(threshold=threshold)
        for p in twin.parameters(trainable_only=True):
            indices = None
            if max_params_per_tensor is not None and p.size > max_params_per_tensor:
                indices = np.sort(rng.choice(p.size, size=max_params_per_tensor, replace=False))
            numeric = numeric_gradient(objective, p.value, epsilon, indices).reshape(-1)
            exact = analytic[p.name].reshape(-1)
            if indices is not None:
                numeric, exact = numeric[indices], exact[indices]
            report.errors[p.name] = relative_error(numeric, exact)
    return report
