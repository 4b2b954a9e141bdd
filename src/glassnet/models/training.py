"""The training loop behind ``Model.fit``, ``evaluate`` and ``predict``.

Mini-batch gradient descent: each epoch visits the samples in a (seeded) random order, in batches of
``batch_size``; ``batch_size=len(x)`` is batch gradient descent and ``batch_size=1`` stochastic gradient
descent. Batches are gathered into buffers reused across steps (``np.take(..., out=...)``), or are
plain views when ``shuffle=False``.

A model with several inputs (``Functional``) takes ``x`` as a list of arrays, one per input; ``x`` then
stays a Python list of arrays throughout, and ``_count``/``_rows`` apply the single-array code to each.
Targets of a model with several outputs are a list in the same way (one array per output).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import numpy as np

from .. import backend
from .._typing import Array
from ..callbacks import CALLBACKS, CallbackList, History
from ..callbacks.progress import make_progress
from ..errors import ConfigError, NonFiniteError, ShapeError
from .outputs import target_list

if TYPE_CHECKING:
    from .model import Model


def _count(x: Array | list[Array]) -> int:
    """Number of samples in x (one array, or a list with one array per model input)."""
    return len(x[0]) if isinstance(x, list) else len(x)


def _rows(x: Array | list[Array], index: Any) -> Any:
    """x[index] for one array, or for each array of a list of inputs."""
    return [a[index] for a in x] if isinstance(x, list) else x[index]


class BatchIterator:
    """Yields ``(x_batch, y_batch)``; shuffled batches are gathered into reused buffers.

    ``x`` (and ``y``) may be a list of arrays (one per model input or output): each is gathered with the
    same sample order.
    """

    def __init__(self, x: Array | list[Array], y: Array | list[Array], batch_size: int, shuffle: bool,
                 rng: np.random.Generator) -> None:
        self.x, self.y, self.batch_size, self.shuffle, self.rng = x, y, batch_size, shuffle, rng
        self.n = _count(y)
        size = min(batch_size, self.n)
        xs = x if isinstance(x, list) else [x]
        ys = y if isinstance(y, list) else [y]
        self._x_buffers = [np.empty((size,) + a.shape[1:], dtype=a.dtype) for a in xs] if shuffle else None
        self._y_buffers = [np.empty((size,) + a.shape[1:], dtype=a.dtype) for a in ys] if shuffle else None

    def __len__(self) -> int:
        return -(-self.n // self.batch_size)

    def __iter__(self) -> Iterator[tuple[Any, Any]]:
        n, size = self.n, self.batch_size
        if not self.shuffle:
            for start in range(0, n, size):
                yield _rows(self.x, slice(start, start + size)), _rows(self.y, slice(start, start + size))
            return
        assert self._x_buffers is not None and self._y_buffers is not None
        order = self.rng.permutation(n)
        several = isinstance(self.x, list)
        xs = self.x if several else [self.x]
        several_y = isinstance(self.y, list)
        ys = self.y if several_y else [self.y]
        for start in range(0, n, size):
            index = order[start : start + size]
            m = len(index)
            # mode="clip" skips the bounds check: the permutation is in range by construction.
            xb = [np.take(a, index, axis=0, out=buf[:m], mode="clip") for a, buf in zip(xs, self._x_buffers)]
            yb = [np.take(a, index, axis=0, out=buf[:m], mode="clip") for a, buf in zip(ys, self._y_buffers)]
            yield (xb if several else xb[0]), (yb if several_y else yb[0])


def check_finite(name: str, array: Array) -> None:
    """Refuse NaN or Inf, naming how many and where the first one is.

    Fast path: a sum is finite only if every term is, so one ``np.add.reduce`` (no temporary array)
    clears the usual case; only a non-finite sum (NaN/Inf present, or an overflow) runs the exact check.
    """
    if not np.issubdtype(array.dtype, np.floating):
        return
    with np.errstate(over="ignore", invalid="ignore"):
        total = np.add.reduce(array, axis=None)
    if np.isfinite(total):
        return
    if np.isfinite(array).all():
        return
    bad = ~np.isfinite(array.reshape(len(array), -1))
    rows = np.flatnonzero(bad.any(axis=1))
    raise NonFiniteError(
        f"{name} holds {int(bad.sum())} NaN or Inf value(s), first in sample {int(rows[0])}; "
        "hint: impute or drop them before training"
    )


def as_inputs(model: Model, x: Any, name: str = "x") -> Any:
    """x as an array of the model's dtype (one cast, no copy when already right), building the model.

    For a model that takes a list of inputs (``model.takes_input_list``), a list of such arrays.
    """
    if model.takes_input_list:
        xs = list(x) if isinstance(x, (list, tuple)) else [x]
        arrays = [_as_array(model, item, f"{name}[{k}]") for k, item in enumerate(xs)]
        model.check_input(arrays)  # type: ignore[arg-type]  # names the input whose count or shape is wrong
        return arrays
    return _as_array(model, x, name)


def _as_array(model: Model, x: Any, name: str) -> Array:
    x = np.asarray(x)
    if x.ndim < 2:
        raise ShapeError(f"{name} must have a batch axis and a feature axis, got shape {x.shape}; "
                         "hint: reshape a single feature with x.reshape(-1, 1)")
    if not model.built:
        model.build(x.shape[1:])
    return x.astype(model.dtype, copy=False)


def _split_validation(x: Any, y: Any, split: float) -> tuple[Any, Any, Any, Any]:
    if not 0.0 <= split < 1.0:
        raise ConfigError(f"validation_split must be in [0, 1), got {split!r}")
    n_val = int(_count(x) * split)
    if split and n_val == 0:
        raise ConfigError(f"validation_split={split} leaves no validation sample out of {_count(x)}")
    cut = _count(x) - n_val  # Keras: the last fraction, taken before shuffling
    head, tail = slice(None, cut), slice(cut, None)
    return _rows(x, head), _rows(y, head), _rows(x, tail), _rows(y, tail)


def prepare_xy(model: Model, x: Any, y: Any, name: str = "") -> tuple[Any, Any]:
    """Validate and convert a pair of inputs and targets once, before any batch is drawn.

    A model with several outputs takes ``y`` as a list (output order) or a dict by output name and gets
    back a list with each output's targets prepared by that output's loss.
    """
    x = as_inputs(model, x, f"{name}x")
    for k, array in enumerate(x if isinstance(x, list) else [x]):
        check_finite(f"{name}x[{k}]" if isinstance(x, list) else f"{name}x", array)
    several = len(model._heads) > 1
    ys = target_list(model, y, f"{name}y") if several else [y]
    shapes = model.output_shape if several else [model.output_shape]
    assert shapes is not None and model._heads
    prepared = []
    for head, y_k, shape in zip(model._heads, ys, shapes):
        label = f"{name}y[{head.name!r}]" if several else f"{name}y"
        y_arr = np.asarray(y_k)
        if len(y_arr) != _count(x):
            raise ShapeError(f"{name}x has {_count(x)} samples but {label} has {len(y_arr)}; they must match")
        if np.issubdtype(y_arr.dtype, np.floating):
            check_finite(label, y_arr)
        prepared.append(head.loss.prepare_targets(y_arr, tuple(shape), model.dtype))  # type: ignore[arg-type]
    return x, prepared if several else prepared[0]


def fit(
    model: Model,
    x: Any,
    y: Any,
    epochs: int = 1,
    batch_size: int | None = 32,
    validation_split: float = 0.0,
    validation_data: tuple[Any, Any] | None = None,
    shuffle: bool = True,
    callbacks: list[Any] | None = None,
    verbose: Any = 1,
    seed: int | None = None,
    initial_epoch: int = 0,
    diagnose: bool = False,
) -> History:
    """Train ``model``; see ``Model.fit``."""
    model.require_compiled("fit")
    rng = backend.make_generator(seed)
    if not model.built:
        with backend.using_generator(np.random.default_rng(rng.integers(2**63))):
            model.build(np.shape(x)[1:])
    x, y = prepare_xy(model, x, y)
    if validation_data is not None:
        if len(validation_data) != 2:
            raise ConfigError("validation_data must be a pair (x_val, y_val)")
        x_val, y_val = prepare_xy(model, *validation_data, name="val_")
    elif validation_split:
        x, y, x_val, y_val = _split_validation(x, y, validation_split)
    else:
        x_val = y_val = None  # type: ignore[assignment]
    batch_size = _check_batch_size(batch_size, _count(x))
    if diagnose:
        # registered by glassnet.diagnostics, which sits above this module (see docs/architecture.md)
        diagnosis = CALLBACKS.lookup_class("FitDiagnosis").for_fit(x, seed)  # type: ignore[attr-defined]
        callbacks = [*(callbacks or []), diagnosis]
    if seed is not None:
        model.reseed(np.random.default_rng(rng.integers(2**63)))
    batches = BatchIterator(x, y, batch_size, shuffle, rng)
    history = History()
    progress = make_progress(verbose)
    # History after the user's callbacks (as in Keras), so what they add to logs is recorded.
    cbs = CallbackList([*(callbacks or []), history, *([progress] if progress else [])], model,
                       {"epochs": epochs, "steps": len(batches), "verbose": verbose})
    model.stop_training = False
    model.history = history
    cbs.on_train_begin()
    with model.training_session():
        for epoch in range(initial_epoch, epochs):
            logs = _run_epoch(model, batches, cbs, epoch)
            if x_val is not None:
                val = model.evaluate(x_val, y_val, batch_size=batch_size, verbose=0)
                logs.update({f"val_{k}": v for k, v in val.items()})
            if model.optimizer.last_learning_rate is not None:
                logs["learning_rate"] = model.optimizer.last_learning_rate
            cbs.on_epoch_end(epoch, logs)
            if model.stop_training:
                break
    cbs.on_train_end()
    if diagnose:
        diagnosis.print_findings(history)
    return history


def _check_batch_size(batch_size: int | None, n: int) -> int:
    if batch_size is None:
        return 32
    if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) or batch_size <= 0:
        raise ConfigError(f"batch_size must be a positive integer, got {batch_size!r}")
    if n == 0:
        raise ShapeError("fit needs at least one training sample, got 0")
    return int(batch_size)


def _run_epoch(model: Model, batches: BatchIterator, cbs: CallbackList, epoch: int) -> dict[str, Any]:
    cbs.on_epoch_begin(epoch)
    for metric in model.metrics:
        metric.reset()
    loss_total, seen = 0.0, 0
    report = cbs.wants_batches
    for step, (xb, yb) in enumerate(batches):
        if report:
            cbs.on_batch_begin(step)
        loss = model.train_step(xb, yb)
        m = len(yb[0]) if type(yb) is list else len(yb)
        loss_total += loss * m
        seen += m
        if report:
            cbs.on_batch_end(step, {"loss": loss_total / seen, **_metric_logs(model)})
        if model.stop_training:  # a callback (e.g. TerminateOnNaN) asked to stop now
            break
    return {"loss": loss_total / max(seen, 1), **_metric_logs(model)}


def _metric_logs(model: Model) -> dict[str, float]:
    return {metric.name: metric.result() for metric in model.metrics}


def evaluate(model: Model, x: Any, y: Any, batch_size: int | None = 32) -> dict[str, float]:
    """Mean loss (plus regularization penalties, as in training) and metrics over ``(x, y)``."""
    model.require_compiled("evaluate")
    x, y = prepare_xy(model, x, y)
    n = _count(y)
    batch_size = _check_batch_size(batch_size, n)
    for metric in model.metrics:
        metric.reset()
    total = 0.0
    with model.workspaces():
        for xb, yb in BatchIterator(x, y, batch_size, False, backend.generator()):
            y_pred = model.forward(xb, training=False)
            total += model._loss_value(yb, y_pred, update_metrics=True) * _count(yb)
    logs = {"loss": total / n + model.regularization_penalty()}
    logs.update(_metric_logs(model))
    return logs


PREDICT_BATCH = 1024  # default rows per forward pass in predict (see Model.predict)


def predict(model: Model, x: Any, batch_size: int | None = None) -> Any:
    """Outputs for ``x`` (a list for several outputs), batch by batch in inference mode (no caches kept)."""
    x = as_inputs(model, x)
    n = _count(x)
    batch_size = PREDICT_BATCH if batch_size is None else _check_batch_size(batch_size, max(n, 1))
    if n <= batch_size:
        out = model.forward(x, training=False)
        return out.copy() if any(out is a for a in (x if isinstance(x, list) else [x])) else out
    assert model.output_shape is not None
    several = isinstance(model.output_shape, list)
    shapes = model.output_shape if several else [model.output_shape]
    outs = [np.empty((n,) + tuple(shape), dtype=model.dtype) for shape in shapes]
    with model.workspaces():  # each batch's output is copied into ``outs`` before the next batch
        for start in range(0, n, batch_size):
            batch = model.forward(_rows(x, slice(start, start + batch_size)), training=False)
            for out, part in zip(outs, batch if several else [batch]):
                out[start : start + batch_size] = part
    return outs if several else outs[0]
