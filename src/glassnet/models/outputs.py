"""What ``compile`` attaches to each model output: its loss, loss weight and metrics (an ``OutputHead``).

A model with one output keeps the plain form (``model.loss`` one ``Loss``, ``model.metrics`` named
``accuracy``, ...). With several outputs (a ``Functional`` with ``outputs=[a, b]``) every setting may be
given once for all outputs, as a list in output order, or as a dict keyed by output name (the name of
the layer that computes the output, as in Keras 3), and the logs follow Keras 3's names:

    loss                    sum_k w_k L_k (+ regularization penalties), what the optimizer minimizes
    <output>_loss           L_k, the unweighted loss of output k
    <output>_<metric>       each metric of output k
"""

from __future__ import annotations

import copy
from typing import Any

import numpy as np

from .. import losses
from .. import metrics as metrics_module
from .._typing import Array
from ..errors import ConfigError, ShapeError


class OutputLoss(metrics_module.Metric):
    """Running mean of one output's loss over the batches (logged as ``<output>_loss``)."""

    def __init__(self, name: str) -> None:
        self.name = name
        super().__init__()

    def add(self, value: float, count: int) -> None:
        self.total += value * count
        self.count += count


class OutputHead:
    """One output: ``name``, ``loss``, ``weight`` (its factor in the total loss) and ``metrics``.

    ``metric_ids`` are the metric names as given (saved with the model); with several outputs each
    metric object is renamed ``<output>_<metric>`` and ``loss_mean`` logs ``<output>_loss``.
    """

    def __init__(self, name: str, loss: losses.Loss, weight: float, metrics: list[metrics_module.Metric],
                 metric_ids: list[Any], several: bool) -> None:
        self.name = name
        self.loss = loss
        self.weight = weight
        self.metrics = metrics
        self.metric_ids = metric_ids
        self.loss_mean = OutputLoss(f"{name}_loss") if several else None
        if several:
            for metric in metrics:
                metric.name = f"{name}_{metric.name}"

    def update(self, y_true: Array, y_pred: Array, loss_value: float) -> None:
        """Add one batch to this output's loss mean and metrics."""
        if self.loss_mean is not None:
            self.loss_mean.add(loss_value, len(y_pred))
        for metric in self.metrics:
            metric.update(y_true, y_pred)


def per_output(value: Any, names: list[str], what: str, model: str, default: Any = None) -> list[Any]:
    """``value`` for each output: one value for all, a list in output order, or a dict by output name."""
    n = len(names)
    if isinstance(value, dict):
        unknown = sorted(set(value) - set(names))
        if unknown:
            raise ConfigError(f"model {model!r}: compile({what}=...) names unknown output(s) {unknown}; the outputs "
                              f"are {names}")
        return [value.get(name, default) for name in names]
    if isinstance(value, (list, tuple)):
        if len(value) != n:
            raise ConfigError(f"model {model!r}: compile({what}=[...]) has {len(value)} entries for {n} outputs "
                              f"{names}; hint: one entry per output, in that order, or a dict by output name")
        return list(value)
    return [value] * n


def make_heads(model: Any, loss: Any, loss_weights: Any, metrics: Any) -> list[OutputHead]:
    """Resolve compile's ``loss``, ``loss_weights`` and ``metrics`` into one ``OutputHead`` per output."""
    names: list[str] = model.output_names
    several = len(names) > 1
    if not several:
        if loss_weights is not None:
            raise ConfigError(f"model {model.name!r} has one output; loss_weights is for several outputs; hint: "
                              "scale the learning rate instead")
        loss = _single(loss, names)
        metric_ids = list(metrics or [])
        loss_fn = losses.get(loss)
        return [OutputHead(names[0], loss_fn, 1.0, [model._resolve_metric(m, loss_fn) for m in metric_ids],
                           metric_ids, False)]
    loss_list = per_output(loss, names, "loss", model.name)
    missing = [name for name, item in zip(names, loss_list) if item is None]
    if missing:
        raise ConfigError(f"model {model.name!r}: output(s) {missing} have no loss; hint: give every output a loss, "
                          f"e.g. loss={{{missing[0]!r}: 'mse', ...}}")
    weights = per_output(1.0 if loss_weights is None else loss_weights, names, "loss_weights", model.name, 1.0)
    metric_lists = per_output(metrics, names, "metrics", model.name) if metrics is not None else [[]] * len(names)
    heads = []
    for name, item, weight, ids in zip(names, loss_list, weights, metric_lists):
        loss_fn = losses.get(copy.deepcopy(item) if isinstance(item, losses.Loss) else item)
        ids = [] if ids is None else list(ids) if isinstance(ids, (list, tuple)) else [ids]
        resolved = [model._resolve_metric(copy.copy(m) if isinstance(m, metrics_module.Metric) else m, loss_fn)
                    for m in ids]
        heads.append(OutputHead(name, loss_fn, _weight(weight, name, model.name), resolved, ids, True))
    return heads


def _single(loss: Any, names: list[str]) -> Any:
    if isinstance(loss, dict):
        return loss[names[0]] if set(loss) == {names[0]} else per_output(loss, names, "loss", "")[0]
    if isinstance(loss, (list, tuple)) and len(loss) == 1:
        return loss[0]
    return loss


def _weight(value: Any, output: str, model: str) -> float:
    try:
        weight = float(value)
    except (TypeError, ValueError):
        raise ConfigError(f"model {model!r}: loss weight of output {output!r} must be a number, "
                          f"got {value!r}") from None
    if not np.isfinite(weight) or weight < 0:
        raise ConfigError(f"model {model!r}: loss weight of output {output!r} must be finite and >= 0, got {value!r}")
    return weight


def target_list(model: Any, y: Any, name: str = "y") -> list[Any]:
    """Targets of a several-output model as one array per output: from a list in output order or a dict
    by output name."""
    names: list[str] = model.output_names
    if isinstance(y, dict):
        missing = [n for n in names if n not in y]
        unknown = sorted(set(y) - set(names))
        if missing or unknown:
            raise ShapeError(f"model {model.name!r}: {name} is a dict with keys {sorted(y)}, but the outputs are "
                             f"{names}; hint: one target array per output name")
        return [y[n] for n in names]
    if isinstance(y, (list, tuple)) and len(y) == len(names):
        return list(y)
    got = f"a list of {len(y)}" if isinstance(y, (list, tuple)) else f"one {type(y).__name__}"
    raise ShapeError(f"model {model.name!r} has {len(names)} outputs {names} but {name} is {got}; hint: pass "
                     f"{name}=[{', '.join(f'{name}_{n}' for n in names)}] or a dict by output name")
