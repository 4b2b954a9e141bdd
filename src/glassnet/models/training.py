"""The training loop behind ``Model.fit``, ``evaluate`` and ``predict``.

Mini-batch gradient descent: each epoch visits the samples in a (seeded) random order, in batches of
``batch_size``; ``batch_size=len(x)`` is batch gradient descent and ``batch_size=1`` stochastic gradient
descent. Batches are gathered into buffers reused across steps (``np.take(..., out=...)``), or are
plain views when ``shuffle=False``.

A model with several inputs (``Functional``) takes ``x`` as a list of arrays, one per input; ``x`` then
stays a Python list of arrays throughout, and ``_count``/``_rows`` apply the single-array code to each.
Targets of a model with several outputs are a list in the same way (one array per output).

Every batch goes through ``model.train_step(data)`` with ``data = (x, y)``, or ``x`` alone when ``fit``
got no targets; the epoch's logs are the batch-size-weighted means of the keys it returns, except the
model's compiled metrics, which keep their own running result (``metric.result()``).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import numpy as np

from .. import backend
from .._typing import Array
from ..callbacks import CALLBACKS, CallbackList, History
from ..callbacks.base import FitState
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
    same sample order. ``y=None`` (no targets) yields ``(x_batch, None)``.
    """

    def __init__(self, x: Array | list[Array], y: Array | list[Array] | None, batch_size: int, shuffle: bool,
                 rng: np.random.Generator) -> None:
        self.x, self.y, self.batch_size, self.shuffle, self.rng = x, y, batch_size, shuffle, rng
        self.n = _count(x)
        size = min(batch_size, self.n)
        xs = x if isinstance(x, list) else [x]
        ys = [] if y is None else y if isinstance(y, list) else [y]
        self._x_buffers = [np.empty((size,) + a.shape[1:], dtype=a.dtype) for a in xs] if shuffle else None
        self._y_buffers = [np.empty((size,) + a.shape[1:], dtype=a.dtype) for a in ys] if shuffle else None

    def __len__(self) -> int:
        return -(-self.n // self.batch_size)

    def __iter__(self) -> Iterator[tuple[Any, Any]]:
        n, size = self.n, self.batch_size
        if not self.shuffle:
            for start in range(0, n, size):
                part = slice(start, start + size)
                yield _rows(self.x, part), None if self.y is None else _rows(self.y, part)
            return
        assert self._x_buffers is not None and self._y_buffers is not None
        order = self.rng.permutation(n)
        if type(self.x) is not list and (self.y is None or type(self.y) is not list):  # one input, one target
            x, x_buf = self.x, self._x_buffers[0]
            y, y_buf = (self.y, self._y_buffers[0]) if self.y is not None else (None, None)
            for start in range(0, n, size):
                index = order[start : start + size]
                m = len(index)
                xb = np.take(x, index, axis=0, out=x_buf[:m], mode="clip")
                yield xb, (None if y is None else np.take(y, index, axis=0, out=y_buf[:m], mode="clip"))
            return
        several = isinstance(self.x, list)
        xs = self.x if several else [self.x]
        several_y = isinstance(self.y, list)
        ys = self.y if several_y else [] if self.y is None else [self.y]
        for start in range(0, n, size):
            index = order[start : start + size]
            m = len(index)
            # mode="clip" skips the bounds check: the permutation is in range by construction.
            xb = [np.take(a, index, axis=0, out=buf[:m], mode="clip") for a, buf in zip(xs, self._x_buffers)]
            yb = [np.take(a, index, axis=0, out=buf[:m], mode="clip") for a, buf in zip(ys, self._y_buffers)]
            yield (xb if several else xb[0]), (yb if several_y else yb[0] if yb else None)


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
    if np.issubdtype(x.dtype, np.integer) and _takes_integers(model):
        return x  # token ids for an Embedding stay integers
    return x.astype(model.dtype, copy=False)


def _takes_integers(model: Model) -> bool:
    """Whether the model's first layer declares ``input_dtype = "int"`` (``Embedding``)."""
    layers = getattr(model, "layers", None) or []
    return bool(layers) and getattr(layers[0], "input_dtype", None) == "int"


def _split_validation(x: Any, y: Any, split: float) -> tuple[Any, Any, Any, Any]:
    if not 0.0 <= split < 1.0:
        raise ConfigError(f"validation_split must be in [0, 1), got {split!r}")
    n_val = int(_count(x) * split)
    if split and n_val == 0:
        raise ConfigError(f"validation_split={split} leaves no validation sample out of {_count(x)}")
    cut = _count(x) - n_val  # Keras: the last fraction, taken before shuffling
    head, tail = slice(None, cut), slice(cut, None)
    if y is None:
        return _rows(x, head), None, _rows(x, tail), None
    return _rows(x, head), _rows(y, head), _rows(x, tail), _rows(y, tail)


def prepare_xy(model: Model, x: Any, y: Any, name: str = "") -> tuple[Any, Any]:
    """Validate and convert a pair of inputs and targets once, before any batch is drawn.

    A model with several outputs takes ``y`` as a list (output order) or a dict by output name and gets
    back a list with each output's targets prepared by that output's loss.
    """
    x = as_inputs(model, x, f"{name}x")
    for k, array in enumerate(x if isinstance(x, list) else [x]):
        check_finite(f"{name}x[{k}]" if isinstance(x, list) else f"{name}x", array)
    if y is None or not model._heads:  # no targets, or a custom train_step without a compiled loss
        return x, _plain_targets(model, x, y, name)
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


def _plain_targets(model: Model, x: Any, y: Any, name: str) -> Any:
    """Targets for a model without a compiled loss: arrays (float ones in the model's dtype), checked for
    the sample count and finiteness; ``None`` stays ``None``."""
    if y is None:
        return None
    out = []
    for k, y_k in enumerate(y if isinstance(y, list) else [y]):
        label = f"{name}y[{k}]" if isinstance(y, list) else f"{name}y"
        arr = np.asarray(y_k)
        if len(arr) != _count(x):
            raise ShapeError(f"{name}x has {_count(x)} samples but {label} has {len(arr)}; they must match")
        if np.issubdtype(arr.dtype, np.floating):
            arr = arr.astype(model.dtype, copy=False)
            check_finite(label, arr)
        out.append(arr)
    return out if isinstance(y, list) else out[0]


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
        if not isinstance(validation_data, (tuple, list)) or len(validation_data) not in (1, 2):
            raise ConfigError("validation_data must be a pair (x_val, y_val), or (x_val,) without targets")
        x_val, y_val = prepare_xy(model, *validation_data, name="val_") if len(validation_data) == 2 else (
            prepare_xy(model, validation_data[0], None, name="val_"))
    elif validation_split:
        x, y, x_val, y_val = _split_validation(x, y, validation_split)
        validation_data = (x_val, y_val)
    else:
        x_val = y_val = None
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
    initial_epoch = cbs.restore_run(FitState(rng, history, initial_epoch, epochs))  # BackupAndRestore
    with model.training_session():
        for epoch in range(initial_epoch, epochs):
            if _interrupted(model):  # asked to stop before the epoch began: nothing of it runs
                break
            logs = _run_epoch(model, batches, cbs, epoch)
            if validation_data is not None:
                val = model.evaluate(x_val, y_val, batch_size=batch_size, verbose=0)
                logs.update({f"val_{k}": v for k, v in val.items()})
            if model.optimizer is not None and model.optimizer.last_learning_rate is not None:
                logs["learning_rate"] = model.optimizer.last_learning_rate
            cbs.on_epoch_end(epoch, logs)
            cbs.after_epoch(epoch)
            if model.stop_training or _interrupted(model):
                break
    cbs.on_train_end()
    if diagnose:
        diagnosis.print_findings(history)
    return history


def _interrupted(model: Model) -> bool:
    """Whether something outside the run (a signal, see ``app.run_control.StopOnSignal``) asked it to stop."""
    return bool(getattr(model, "interrupted", False))


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
    stateful = {metric.name for metric in model.metrics}  # running results, not averaged again
    totals: dict[str, float] = {}
    seen = 0
    report = cbs.wants_batches
    train_step = model.train_step
    for step, (xb, yb) in enumerate(batches):
        if report:
            cbs.on_batch_begin(step)
        logs = train_step(xb if yb is None else (xb, yb))
        m = len(xb[0]) if type(xb) is list else len(xb)
        for key, value in logs.items():
            if key in totals:
                totals[key] += value * m
            elif key not in stateful:
                totals[key] = float(value) * m
        seen += m
        if report:
            cbs.on_batch_end(step, _mean_logs(model, totals, seen))
        if model.stop_training or model.interrupted:  # a callback (TerminateOnNaN) or a signal asked to stop
            break
    return _mean_logs(model, totals, seen)


def _mean_logs(model: Model, totals: dict[str, float], seen: int) -> dict[str, float]:
    """Each returned key's mean over the samples seen, then the compiled metrics' running results."""
    return {**{key: total / max(seen, 1) for key, total in totals.items()}, **_metric_logs(model)}


def _metric_logs(model: Model) -> dict[str, float]:
    return {metric.name: metric.result() for metric in model.metrics}


def evaluate(model: Model, x: Any, y: Any, batch_size: int | None = 32) -> dict[str, float]:
    """Mean loss (plus regularization penalties, as in training) and metrics over ``(x, y)``; a model that
    overrides ``test_step`` gets the batch-size-weighted means of what it returns."""
    model.require_compiled("evaluate")
    from .model import Model  # a runtime import: model.py imports this module

    if type(model).test_step is not Model.test_step:
        return _evaluate_custom(model, x, y, batch_size)
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


def _evaluate_custom(model: Model, x: Any, y: Any, batch_size: int | None) -> dict[str, float]:
    x, y = prepare_xy(model, x, y)
    batch_size = _check_batch_size(batch_size, _count(x))
    for metric in model.metrics:
        metric.reset()
    stateful = {metric.name for metric in model.metrics}
    totals: dict[str, float] = {}
    for xb, yb in BatchIterator(x, y, batch_size, False, backend.generator()):
        m = _count(xb)
        for key, value in model.test_step(xb if yb is None else (xb, yb)).items():
            if key not in stateful:
                totals[key] = totals.get(key, 0.0) + float(value) * m
    return _mean_logs(model, totals, _count(x))


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
    shapes: list[Any] = model.output_shape if several else [model.output_shape]  # type: ignore[assignment]
    outs = [np.empty((n,) + tuple(shape), dtype=model.dtype) for shape in shapes]
    with model.workspaces():  # each batch's output is copied into ``outs`` before the next batch
        for start in range(0, n, batch_size):
            batch = model.forward(_rows(x, slice(start, start + batch_size)), training=False)
            for out, part in zip(outs, batch if several else [batch]):
                out[start : start + batch_size] = part
    return outs if several else outs[0]
