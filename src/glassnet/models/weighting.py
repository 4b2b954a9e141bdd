"""Training and evaluation with per-sample weights (``fit(sample_weight=..., class_weight=...)``).

For a batch of N samples with weights w_i and per-sample losses l_i (``Loss.per_sample``), the loss is
Keras' "sum over batch size" reduction

    L_w = (1/N) sum_i w_i l_i            dL_w/dp_i = w_i dL/dp_i

where dL/dp is the unweighted gradient of the mean loss (which already carries the 1/N). Each output of a
model with several outputs is weighed by the same w; ``add_loss`` terms and regularization penalties are
not weighed, and neither are the compiled metrics (Keras' ``metrics``, as opposed to ``weighted_metrics``).
The unweighted path (``Model.train_step`` on ``(x, y)``) does not come through here.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from .._typing import Array
from . import steps

if TYPE_CHECKING:
    from .model import Model


def weighted_value(loss: Any, y_true: Any, y_pred: Array, w: Array) -> float:
    """L_w = (1/N) sum_i w_i l_i."""
    return float(np.vdot(w, loss.per_sample(y_true, y_pred))) / max(len(w), 1)


def _rows(w: Array, like: Array) -> Array:
    """w shaped to broadcast over the sample axis of ``like``, in its dtype."""
    return w.astype(like.dtype, copy=False).reshape((len(w),) + (1,) * (like.ndim - 1))


def weighted_loss(model: Model, y: Any, y_pred: Any, w: Array, update_metrics: bool) -> float:
    """sum_k weight_k L_w,k as reported (one output: its L_w); updates the (unweighted) metrics if asked."""
    if not model._several_outputs:
        if update_metrics:
            for metric in model.metrics:
                metric.update(y, y_pred)
        return weighted_value(model.loss, y, y_pred, w)
    total = 0.0
    for head, y_k, p_k in zip(model._heads, y, y_pred):
        value = weighted_value(head.loss, y_k, p_k, w)
        total += head.weight * value
        if update_metrics:
            head.update(y_k, p_k, value)
    return total


def loss_and_gradients(model: Model, x: Any, y: Any, w: Array, update_metrics: bool = False) -> float:
    """``Model.compute_loss_and_gradients`` with per-sample weights: each output gradient is scaled by w_i."""
    if not model._in_session:
        with model.training_session():
            return loss_and_gradients(model, x, y, w, update_metrics)
    y_pred = model.forward(x, training=True)
    loss = weighted_loss(model, y, y_pred, w, update_metrics)
    model._last_output_loss = loss
    terms = steps.loss_terms(model)
    model._last_added = steps.sum_terms(terms) if terms else {}
    several = model._several_outputs
    grads = []
    ys, preds = (y, y_pred) if several else ([y], [y_pred])
    for head, fused, y_k, p_k in zip(model._heads, model._fused, ys, preds):
        g = head.loss.fused_gradient(y_k, p_k) if fused else head.loss.gradient(y_k, p_k)
        g = g * _rows(w, g)
        grads.append(g * g.dtype.type(head.weight) if several and head.weight != 1.0 else g)
    model._run_backward(grads if several else grads[0], model._fused if several else model._fused[0])
    penalty = model._add_regularization() if model._regularized else 0.0
    return loss + sum(value for _, value in terms) + penalty


def train_step(model: Model, x: Any, y: Any, w: Array) -> dict[str, float]:
    """The built-in step on a weighted batch: weighted loss and gradients, then the optimizer update."""
    loss = loss_and_gradients(model, x, y, w, update_metrics=True)
    model.optimizer.step(model._trainable_params if model._in_session else model.parameters(trainable_only=True))
    logs = {"loss": loss, **model._last_added}
    for metric in model.metrics:
        logs[metric.name] = metric.result()
    return logs


def split_targets(yb: list[Any], several_outputs: bool) -> tuple[Any, Array]:
    """A batch of ``[*targets, weights]`` (how ``fit`` batches weighted data) as (targets, weights)."""
    return (yb[:-1] if several_outputs else yb[0]), yb[-1]
