"""``train_on_batch``, ``test_on_batch`` and ``predict_on_batch``: one batch at a time, as in Keras 3.

The data are checked and converted as ``fit`` checks them (``training.prepare_xy``), then one call of
``train_step`` / ``test_step`` runs on the whole batch. The metrics are reset first, so what is returned
covers this batch only (Keras 3.13+; earlier versions accumulated them across calls). Return value
(``return_dict=False``): the loss alone when it is the only log, else ``[loss, *metrics in compile order,
*other keys sorted]`` (Keras' ``_flatten_metrics_in_order``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from . import fit_args, training

if TYPE_CHECKING:
    from .model import Model


def _flatten(model: Model, logs: dict[str, float]) -> Any:
    names = ["loss", *(metric.name for metric in model.metrics)]
    values = [logs[name] for name in names if name in logs]
    values += [logs[key] for key in sorted(logs) if key not in names]
    return values[0] if len(values) == 1 else values


def _batch(model: Model, x: Any, y: Any, sample_weight: Any, class_weight: Any, what: str) -> Any:
    """The data of one step: ``x``, ``(x, y)`` or ``(x, y, w)``, checked; an unbuilt model that fails the
    checks stays unbuilt."""
    model.require_compiled(what)
    fit_args.check_has_layers(model)
    was_built = model.built
    try:
        x, y = training.prepare_xy(model, x, y)
        w = fit_args.sample_weights(y, sample_weight, class_weight, training._count(x), model.dtype,
                                      model.loss)
    except Exception:
        if not was_built:
            fit_args.unbuild(model)
        raise
    return x if y is None else (x, y) if w is None else (x, y, w)


def train_on_batch(model: Model, x: Any, y: Any = None, sample_weight: Any = None, class_weight: Any = None,
                   return_dict: bool = False) -> Any:
    """One optimizer step on the batch (``Model.train_on_batch``)."""
    data = _batch(model, x, y, sample_weight, class_weight, "train_on_batch")
    model.reset_metrics()
    with model.training_session():
        logs = model.train_step(data)
    logs = {key: float(value) for key, value in logs.items()}
    return logs if return_dict else _flatten(model, logs)


def test_on_batch(model: Model, x: Any, y: Any = None, sample_weight: Any = None, return_dict: bool = False) -> Any:
    """Loss and metrics of the batch in inference mode (``Model.test_on_batch``)."""
    data = _batch(model, x, y, sample_weight, None, "test_on_batch")
    model.reset_metrics()
    logs = {key: float(value) for key, value in model.test_step(data).items()}
    from .model import Model  # a runtime import: model.py imports this module

    if type(model).test_step is Model.test_step:  # as evaluate: the loss includes the regularization penalties
        logs["loss"] += model.regularization_penalty()
    return logs if return_dict else _flatten(model, logs)


def predict_on_batch(model: Model, x: Any) -> Any:
    """The model's outputs for ``x`` in one forward pass (``Model.predict_on_batch``)."""
    x = training.prepared_inputs(model, x)
    out = model.forward(x, training=False)
    return out.copy() if any(out is a for a in (x if isinstance(x, list) else [x])) else out
