"""Training and evaluation with per-sample weights (``fit(sample_weight=..., class_weight=...)``) and with
masked sequence outputs.

For a batch of N samples with weights w_i and per-sample losses l_i (``Loss.per_sample``), the loss is
Keras' "sum over batch size" reduction

    L_w = (1/N) sum_i w_i l_i            dL_w/dp_i = w_i dL/dp_i

where dL/dp is the unweighted gradient of the mean loss (which already carries the 1/N). Each output of a
model with several outputs is weighed by the same w; ``add_loss`` terms and regularization penalties are
not weighed, and neither are the compiled metrics (Keras' ``metrics``, as opposed to ``weighted_metrics``).

A masked output (batch, T, ...) (the mask of an ``Embedding(mask_zero=True)`` that reached it, kept by the
model's forward in ``_output_masks``) is the same sum over its batch * T rows, with the mask as weights
scaled so that the loss is the mean over the real steps only, as Keras 3 reduces it:

    e_(b,t) = m_(b,t) (N / N_real) w_b,   L = (1/N) sum e l = (1/N_real) sum_(b,t real) w_b l_(b,t)

and the metrics see the real steps only. The plain path (``Model.train_step`` on ``(x, y)`` with no
mask at the output) does not come through here.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from .._typing import Array
from . import steps

if TYPE_CHECKING:
    from .model import Model


def _as_rows(y_true: Any, y_pred: Array, mask: Array | None) -> tuple[Any, Array]:
    """A masked output (batch, T, ...) and its targets as batch * T rows; unmasked ones as they are."""
    if mask is None:
        return y_true, y_pred
    n = mask.size
    y = np.asarray(y_true)
    return y.reshape((n,) + y.shape[mask.ndim:]), y_pred.reshape((n,) + y_pred.shape[mask.ndim:])


def _weights(w: Array | None, mask: Array | None, like: Array) -> Array | None:
    """e per row of ``_as_rows``: w, or m (N / N_real) w per step of a masked output (module docstring)."""
    if mask is None:
        return None if w is None else w.astype(like.dtype, copy=False)
    m = mask.astype(like.dtype).reshape(-1)
    real = int(np.count_nonzero(mask))
    m *= like.dtype.type(m.size / real) if real else like.dtype.type(0)
    if w is not None:
        m *= np.repeat(w.astype(like.dtype, copy=False), mask.size // len(w))  # w_b for each step of row b
    return m


def weighted_value(loss: Any, y_true: Any, y_pred: Array, w: Array | None, mask: Array | None = None) -> float:
    """L_w = (1/N) sum_i e_i l_i over the rows (module docstring); e = w without a mask."""
    y_true, y_pred = _as_rows(y_true, y_pred, mask)
    e = _weights(w, mask, y_pred)
    if e is None:
        return float(loss(y_true, y_pred))
    return float(np.vdot(e, loss.per_sample(y_true, y_pred))) / max(len(e), 1)


def weighted_gradient(loss: Any, fused: bool, y_true: Any, y_pred: Array, w: Array | None,
                      mask: Array | None = None) -> Array:
    """dL_w/dp (or dL_w/dz for a fused output): e_i times the plain gradient of the mean, in y_pred's shape."""
    y_rows, p_rows = _as_rows(y_true, y_pred, mask)
    g = loss.fused_gradient(y_rows, p_rows) if fused else loss.gradient(y_rows, p_rows)
    e = _weights(w, mask, g)
    if e is not None:
        g = g * e.reshape((len(e),) + (1,) * (g.ndim - 1))
    return g.reshape(y_pred.shape)


def _real_steps(y_true: Any, y_pred: Array, mask: Array | None) -> tuple[Any, Array]:
    """Targets and outputs of the real steps only (of a masked output), for the compiled metrics."""
    if mask is None:
        return y_true, y_pred
    return np.asarray(y_true)[mask], y_pred[mask]


def _masks(model: Model) -> list[Any]:
    return model._output_masks or [None] * max(len(model._heads), 1)


def weighted_loss(model: Model, y: Any, y_pred: Any, w: Array | None, update_metrics: bool) -> float:
    """sum_k weight_k L_w,k as reported (one output: its L_w); updates the (unweighted) metrics if asked."""
    masks = _masks(model)
    if not model._several_outputs:
        if update_metrics:
            y_real, p_real = _real_steps(y, y_pred, masks[0])
            for metric in model.metrics:
                metric.update(y_real, p_real)
        return weighted_value(model.loss, y, y_pred, w, masks[0])
    total = 0.0
    for head, y_k, p_k, m_k in zip(model._heads, y, y_pred, masks):
        value = weighted_value(head.loss, y_k, p_k, w, m_k)
        total += head.weight * value
        if update_metrics:
            head.update(*_real_steps(y_k, p_k, m_k), value)
    return total


def loss_and_gradients(model: Model, x: Any, y: Any, w: Array | None, update_metrics: bool = False) -> float:
    """``Model.compute_loss_and_gradients`` with per-sample weights (each output gradient scaled by w_i)
    and masked outputs (module docstring)."""
    if not model._in_session:
        with model.training_session():
            return loss_and_gradients(model, x, y, w, update_metrics)
    return after_forward(model, y, model.forward(x, training=True), w, update_metrics)


def after_forward(model: Model, y: Any, y_pred: Any, w: Array | None, update_metrics: bool) -> float:
    """The rest of ``loss_and_gradients`` once the training forward pass gave ``y_pred``."""
    loss = weighted_loss(model, y, y_pred, w, update_metrics)
    model._last_output_loss = loss
    terms = steps.loss_terms(model)
    model._last_added = steps.sum_terms(terms) if terms else {}
    several = model._several_outputs
    grads = []
    ys, preds = (y, y_pred) if several else ([y], [y_pred])
    for head, fused, y_k, p_k, m_k in zip(model._heads, model._fused, ys, preds, _masks(model)):
        g = weighted_gradient(head.loss, fused, y_k, p_k, w, m_k)
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
