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
from ..callbacks.progress import make_progress, make_step_progress
from ..errors import ConfigError, NonFiniteError, ShapeError
from . import fit_args, weighting
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


SMALL_FINITE_CHECK = 4096  # up to this many values, check_finite tests them directly (no errstate, no sum)


def check_finite(name: str, array: Array, hint: str = "impute or drop them before training") -> None:
    """Refuse NaN or Inf, naming how many and where the first one is.

    Fast path: a sum is finite only if every term is, so one ``np.add.reduce`` (no temporary array)
    clears the usual case; only a non-finite sum (NaN/Inf present, or an overflow) runs the exact check.
    Small arrays are tested directly, which costs less than the sum's error-state switch.
    """
    if array.dtype.kind != "f":
        return
    if array.size <= SMALL_FINITE_CHECK:  # a few values (one sample to predict): the direct test is cheaper
        if np.isfinite(array).all():
            return
    else:
        with np.errstate(over="ignore", invalid="ignore"):
            total = np.add.reduce(array, axis=None)
        if np.isfinite(total) or np.isfinite(array).all():
            return
    bad = ~np.isfinite(array.reshape(len(array), -1))
    rows = np.flatnonzero(bad.any(axis=1))
    raise NonFiniteError(
        f"{name} holds {int(bad.sum())} NaN or Inf value(s), first in sample {int(rows[0])}; hint: {hint}"
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
    x = fit_args.check_numeric(name, np.asarray(x))
    if x.ndim < 2:
        raise ShapeError(f"{name} must have a batch axis and a feature axis, got shape {x.shape}; "
                         "hint: reshape a single feature with x.reshape(-1, 1)")
    if not model.built:
        model.build(x.shape[1:])
    elif not model.takes_input_list and model._default_step():  # a custom step (GAN) reads x its own way
        model.check_input(x)  # names the expected shape: before any training, not in the first batch
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
        y_arr = fit_args.check_numeric(label, np.asarray(y_k))
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
        arr = fit_args.check_numeric(label, np.asarray(y_k))
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
    validation_data: tuple[Any, ...] | None = None,
    shuffle: bool = True,
    callbacks: list[Any] | None = None,
    verbose: Any = 1,
    seed: int | None = None,
    initial_epoch: int = 0,
    diagnose: bool = False,
    sample_weight: Any = None,
    class_weight: Any = None,
    steps_per_epoch: int | None = None,
    parallel: Any = None,
) -> History:
    """Train ``model``; see ``Model.fit``. Every argument and the data are checked before any weight
    changes; a model that was unbuilt and fails these checks is left unbuilt (``fit_args.unbuild``).

    ``parallel`` is the seam of a fit spread over processes (``glassnet.distributed.fit``), ``None`` for
    one process. It supplies ``batches(x, y, batch_size, shuffle, rng)`` (this process's part of each
    batch), ``callbacks(cbs)`` (a ``CallbackList`` in their place), ``train_step(data)``, ``evaluate``,
    ``batch_logs``/``epoch_logs(model, totals, seen)`` (the logs over all processes) and ``interrupted``.
    """
    model.require_compiled("fit")
    fit_args.check_has_layers(model)
    fit_args.check_fit_arguments(epochs, initial_epoch, seed, shuffle, steps_per_epoch)
    verbose = fit_args.check_verbose(verbose)
    callbacks = fit_args.callback_list(callbacks)
    rng = backend.make_generator(seed)
    was_built = model.built
    try:
        x, y, w, val, batch_size = _prepare_fit(model, x, y, rng, validation_split, validation_data, batch_size,
                                                sample_weight, class_weight)
    except Exception:
        if not was_built:
            fit_args.unbuild(model)
        raise
    if diagnose:
        # registered by glassnet.diagnostics, which sits above this module (see docs/architecture.md)
        diagnosis = CALLBACKS.lookup_class("FitDiagnosis").for_fit(x, seed)  # type: ignore[attr-defined]
        callbacks = [*callbacks, diagnosis]
    if seed is not None:
        model.reseed(np.random.default_rng(rng.integers(2**63)))
    step = None
    if parallel is not None:
        if w is not None or (val is not None and val[2] is not None) or steps_per_epoch is not None:
            raise ConfigError("distributed fit: sample_weight, class_weight and steps_per_epoch are not supported "
                              "across processes yet; hint: train without them, or in one process")
        batches: Any = parallel.batches(x, y, batch_size, shuffle, rng)
    elif w is None:
        batches = BatchIterator(x, y, batch_size, shuffle, rng)
    else:  # weights batched as one more target: [*targets, w]
        several = model._several_outputs
        batches = BatchIterator(x, [*y, w] if several else [y, w], batch_size, shuffle, rng)
        step = _weighted_step(model, several)
    if steps_per_epoch is not None:
        batches = StepsPerEpoch(batches, steps_per_epoch)
    history = History()
    progress = make_progress(verbose)
    # History after the user's callbacks (as in Keras), so what they add to logs is recorded.
    cbs = CallbackList([*callbacks, history, *([progress] if progress else [])], model,
                       {"epochs": epochs, "steps": len(batches), "verbose": verbose})
    if parallel is not None:
        cbs = parallel.callbacks(cbs)
    stopped = _interrupted if parallel is None else parallel.interrupted
    evaluate = model.evaluate if parallel is None else parallel.evaluate
    model.stop_training = False
    model.history = history
    cbs.on_train_begin()
    initial_epoch = cbs.restore_run(FitState(rng, history, initial_epoch, epochs))  # BackupAndRestore
    with model.training_session():
        for epoch in range(initial_epoch, epochs):
            if stopped(model):  # asked to stop before the epoch began: nothing of it runs
                break
            logs = _run_epoch(model, batches, cbs, epoch, parallel, step)
            if val is not None:
                x_val, y_val, w_val = val
                weighted = {} if w_val is None else {"sample_weight": w_val}
                val_logs = evaluate(x_val, y_val, batch_size=batch_size, verbose=0, **weighted)
                logs.update({f"val_{k}": v for k, v in val_logs.items()})
            if model.optimizer is not None and model.optimizer.last_learning_rate is not None:
                logs["learning_rate"] = model.optimizer.last_learning_rate
            cbs.on_epoch_end(epoch, logs)
            cbs.after_epoch(epoch)
            if model.stop_training or stopped(model):
                break
    cbs.on_train_end()
    if diagnose:
        diagnosis.print_findings(history)
    return history


def _prepare_fit(model: Model, x: Any, y: Any, rng: np.random.Generator, validation_split: float,
                 validation_data: Any, batch_size: Any, sample_weight: Any, class_weight: Any) -> tuple[Any, ...]:
    """Build (if needed), convert and check the training and validation data and the sample weights:
    ``(x, y, w, (x_val, y_val, w_val) or None, batch_size)``."""
    if not model.built:
        with backend.using_generator(np.random.default_rng(rng.integers(2**63))):
            model.build(np.shape(x)[1:])
    x, y = prepare_xy(model, x, y)
    if (sample_weight is not None or class_weight is not None) and y is None:
        raise ConfigError("fit: sample_weight and class_weight weigh the loss of each sample against its targets; "
                          "hint: pass y, or weigh samples inside your own train_step")
    w = fit_args.sample_weights(y, sample_weight, class_weight, _count(x), model.dtype, model.loss)
    val = None
    if validation_data is not None:
        if not isinstance(validation_data, (tuple, list)) or len(validation_data) not in (1, 2, 3):
            raise ConfigError("validation_data must be a pair (x_val, y_val), (x_val, y_val, sample_weight_val) or "
                              f"(x_val,) without targets, got {type(validation_data).__name__}")
        x_val, y_val = prepare_xy(model, validation_data[0], (list(validation_data) + [None])[1], name="val_")
        w_val = None
        if len(validation_data) == 3:
            w_val = fit_args.sample_weights(y_val, validation_data[2], None, _count(x_val), model.dtype)
        val = (x_val, y_val, w_val)
    elif validation_split:
        cut = _count(x) - int(_count(x) * validation_split) if 0.0 <= validation_split < 1.0 else 0
        x, y, x_val, y_val = _split_validation(x, y, validation_split)
        val, w = (x_val, y_val, None if w is None else w[cut:]), (None if w is None else w[:cut])
    batch_size = _check_batch_size(batch_size, _count(x))
    _check_batch_norm(model, _count(x), batch_size)
    return x, y, w, val, batch_size


def _weighted_step(model: Model, several: bool) -> Any:
    """``train_step`` for batches of ``[*targets, w]``: it gets ``(x, y, sample_weight)`` as in Keras."""
    train_step = model.train_step

    def step(data: tuple[Any, list[Any]]) -> dict[str, float]:
        yb, wb = weighting.split_targets(data[1], several)
        return train_step((data[0], yb, wb))

    return step


class StepsPerEpoch:
    """``steps_per_epoch`` batches per epoch from a stream that runs through the data again and again
    (reshuffled at each pass), so each epoch continues where the last one stopped (Keras with arrays)."""

    def __init__(self, batches: BatchIterator, steps: int) -> None:
        self.batches, self.steps = batches, steps
        self._stream: Iterator[Any] | None = None

    def __len__(self) -> int:
        return self.steps

    def __iter__(self) -> Iterator[Any]:
        for _ in range(self.steps):
            if self._stream is None:
                self._stream = iter(self.batches)
            batch = next(self._stream, None)
            if batch is None:  # a pass is over: start the next one
                self._stream = iter(self.batches)
                batch = next(self._stream)
            yield batch


def _check_batch_norm(model: Model, n: int, batch_size: int) -> None:
    """Refuse, before training, a batch that would give a BatchNormalization one value per channel."""
    from ..layers.normalization import BatchNormalization

    last = n % batch_size or min(batch_size, n)
    if last != 1:
        return
    for layer in _leaves(model):
        if isinstance(layer, BatchNormalization) and layer.input_shape is not None and \
                int(np.prod(layer.input_shape[:-1], dtype=np.int64)) == 1:
            raise ShapeError(
                f"BatchNormalization {layer.name!r}: the last training batch would hold 1 sample ({n} samples, "
                f"batch_size={batch_size}), and batch statistics need more than 1 value per channel (PyTorch "
                "refuses it too); hint: choose a batch_size that does not leave 1 sample over, or drop a sample")


def _leaves(model: Any) -> list[Any]:
    out = []
    for layer in getattr(model, "layers", []):
        out += _leaves(layer) if hasattr(layer, "layers") else [layer]
    return out


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


def _run_epoch(model: Model, batches: Any, cbs: CallbackList, epoch: int, parallel: Any = None,
               step_fn: Any = None) -> dict[str, Any]:
    cbs.on_epoch_begin(epoch)
    for metric in model.metrics:
        metric.reset()
    stateful = {metric.name for metric in model.metrics}  # running results, not averaged again
    totals: dict[str, float] = {}
    seen = 0
    report = cbs.wants_batches
    train_step = step_fn if step_fn is not None else model.train_step if parallel is None else parallel.train_step
    mean_logs = _mean_logs if parallel is None else parallel.batch_logs
    stopped = None if parallel is None else parallel.interrupted
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
            cbs.on_batch_end(step, mean_logs(model, totals, seen))
        # a callback (TerminateOnNaN) or a signal asked to stop
        if model.stop_training or (model.interrupted if stopped is None else stopped(model)):
            break
    return _mean_logs(model, totals, seen) if parallel is None else parallel.epoch_logs(model, totals, seen)


def _mean_logs(model: Model, totals: dict[str, float], seen: int) -> dict[str, float]:
    """Each returned key's mean over the samples seen, then the compiled metrics' running results."""
    return {**{key: total / max(seen, 1) for key, total in totals.items()}, **_metric_logs(model)}


def _metric_logs(model: Model) -> dict[str, float]:
    return {metric.name: metric.result() for metric in model.metrics}


def evaluate(model: Model, x: Any, y: Any, batch_size: int | None = 32, sample_weight: Any = None,
             verbose: Any = 0) -> dict[str, float]:
    """Mean loss (plus regularization penalties, as in training) and metrics over ``(x, y)``; a model that
    overrides ``test_step`` gets the batch-size-weighted means of what it returns. With ``sample_weight``
    the loss is (1/n) sum_i w_i l_i (``models.weighting``); the metrics stay unweighted."""
    model.require_compiled("evaluate")
    fit_args.check_has_layers(model)
    verbose = fit_args.check_verbose(verbose, "evaluate")
    from .model import Model  # a runtime import: model.py imports this module

    x, y = prepare_xy(model, x, y)
    w = None if sample_weight is None else fit_args.sample_weights(y, sample_weight, None, _count(x), model.dtype)
    if type(model).test_step is not Model.test_step:
        return _evaluate_custom(model, x, y, batch_size, w, verbose)
    n = _count(y)
    batch_size = _check_batch_size(batch_size, n)
    for metric in model.metrics:
        metric.reset()
    total = 0.0
    several = model._several_outputs
    batches = BatchIterator(x, y if w is None else [*y, w] if several else [y, w], batch_size, False,
                            backend.generator())
    progress = make_step_progress(verbose, len(batches))
    with model.workspaces():
        for k, (xb, yb) in enumerate(batches):
            y_pred = model.forward(xb, training=False)
            if w is None:
                total += model._loss_value(yb, y_pred, update_metrics=True) * _count(yb)
            else:
                yb, wb = weighting.split_targets(yb, several)
                total += weighting.weighted_loss(model, yb, y_pred, wb, update_metrics=True) * len(wb)
            if progress is not None:
                progress.update(k + 1, _metric_logs(model))
    logs = {"loss": total / n + model.regularization_penalty()}
    logs.update(_metric_logs(model))
    if progress is not None:
        progress.close(logs)
    return logs


def _evaluate_custom(model: Model, x: Any, y: Any, batch_size: int | None, w: Array | None,
                     verbose: int) -> dict[str, float]:
    batch_size = _check_batch_size(batch_size, _count(x))
    for metric in model.metrics:
        metric.reset()
    stateful = {metric.name for metric in model.metrics}
    totals: dict[str, float] = {}
    several = isinstance(y, list)
    batches = BatchIterator(x, y if w is None else [*y, w] if several else [y, w], batch_size, False,
                            backend.generator())
    progress = make_step_progress(verbose, len(batches))
    for k, (xb, yb) in enumerate(batches):
        m = _count(xb)
        data = xb if yb is None else (xb, yb) if w is None else (xb, *weighting.split_targets(yb, several))
        for key, value in model.test_step(data).items():
            if key not in stateful:
                totals[key] = totals.get(key, 0.0) + float(value) * m
        if progress is not None:
            progress.update(k + 1, _mean_logs(model, totals, (k + 1) * batch_size))
    logs = _mean_logs(model, totals, _count(x))
    if progress is not None:
        progress.close(logs)
    return logs


PREDICT_BATCH = 1024  # default rows per forward pass in predict (see Model.predict)


def predict(model: Model, x: Any, batch_size: int | None = None, verbose: Any = 0) -> Any:
    """Outputs for ``x`` (a list for several outputs), batch by batch in inference mode (no caches kept).

    NaN or Inf in ``x`` is refused (``NonFiniteError``, naming the first sample): a prediction from it
    would be NaN, or silently wrong, rather than an answer.
    """
    verbose = 0 if verbose == 0 and type(verbose) is int else fit_args.check_verbose(verbose, "predict")
    x = prepared_inputs(model, x)
    n = _count(x)
    batch_size = PREDICT_BATCH if batch_size is None else _check_batch_size(batch_size, max(n, 1))
    progress = make_step_progress(verbose, max(-(-n // batch_size), 1))
    if n <= batch_size:
        out = model.forward(x, training=False)
        if progress is not None:
            progress.close({})
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
            if progress is not None:
                progress.update(start // batch_size + 1, {})
    if progress is not None:
        progress.close({})
    return outs if several else outs[0]


def prepared_inputs(model: Model, x: Any) -> Any:
    """``as_inputs`` for inference: also refuses NaN or Inf, and a model without layers."""
    fit_args.check_has_layers(model)
    x = as_inputs(model, x)
    if type(x) is not list:
        check_finite("x", x, hint=_PREDICT_NONFINITE)
        return x
    for k, array in enumerate(x):
        check_finite(f"x[{k}]", array, hint=_PREDICT_NONFINITE)
    return x


_PREDICT_NONFINITE = "predict refuses them, as its outputs would be NaN; impute or drop those samples"
