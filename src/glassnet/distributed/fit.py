"""Data-parallel ``fit``: every process trains the same model on its shard of each global batch.

With p processes (ranks) and a step over a global batch of b rows (``batch_size``, or the shorter last
batch), rank r takes the contiguous rows lo_r = floor(r b / p) .. hi_r = floor((r + 1) b / p) of that
batch, m_r = hi_r - lo_r of them. Each rank computes J_r, the mean loss over its m_r rows plus the
penalties R, and its gradient g_r (``Model.compute_loss_and_gradients``). Since sum_r m_r = b,

    sum_r (m_r / b) g_r = (1/b) sum_i dL_i/dtheta + dR/dtheta = the one-process gradient on b rows,

so each rank scales its flat gradient buffer by m_r / b and one in-place ``Allreduce`` (sum) over
``ParameterPack.grads`` gives every rank that gradient; every rank then takes the same optimizer step.
The result does not depend on p beyond the order of floating-point sums:

- the epoch's permutation comes from the shared seed (the same generator calls as ``Model.fit``);
- rank 0's weights (and optimizer state, if any) are broadcast before the first step;
- Dropout draws, for its rows, exactly the bits one process would draw for the whole batch
  (``Dropout.shard``), so every sample gets the mask it gets in one process;
- BatchNormalization uses each rank's statistics by default (not exact: statistics of m_r rows, and
  the moving averages are averaged over ranks after each epoch); ``sync_batch_norm=True`` sums the
  statistics and the two backward sums over ranks (``BatchNormalization.sync``): exact.

Logs: the loss and every metric's ``total``/``count`` are summed over ranks (one small Allreduce per
epoch, or per step when a callback has batch hooks); validation data is split over ranks the same way.
Callbacks, the progress bar and everything they write run on rank 0 only; after each hook rank 0
broadcasts ``stop_training`` and the learning rate (callbacks may change them), after each epoch its
logs (every rank's ``History`` is the same), and at the end its weights.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .. import backend
from .._typing import Array
from ..callbacks import CallbackList, History
from ..callbacks.backup import _generators
from ..callbacks.base import FitState
from ..callbacks.progress import make_progress
from ..errors import ConfigError, ShapeError
from ..layers.normalization import BatchNormalization
from ..models.training import prepare_xy
from .buckets import check_bucket_bytes
from .comm import Communicator, report_and_abort, world
from .step import DistributedStep


def _count(x: Any) -> int:
    return len(x[0]) if isinstance(x, list) else len(x)


def _rows(x: Any, index: Any) -> Any:
    return [a[index] for a in x] if isinstance(x, list) else x[index]


def shard_bounds(rows: int, rank: int, size: int) -> tuple[int, int]:
    """Rows lo:hi of a batch of ``rows`` that ``rank`` of ``size`` takes (sizes differ by at most one)."""
    return rank * rows // size, (rank + 1) * rows // size


class _ShardedBatches:
    """This rank's part of each global batch, gathered into reused buffers (views when not shuffled)."""

    def __init__(self, x: Any, y: Any, batch_size: int, shuffle: bool, rng: np.random.Generator,
                 comm: Communicator) -> None:
        self.x, self.y, self.batch_size, self.shuffle, self.rng = x, y, batch_size, shuffle, rng
        self.rank, self.size = comm.rank, comm.size
        self.n = _count(y)
        width = -(-min(batch_size, self.n) // self.size)
        self._bufs = [
            [np.empty((width,) + a.shape[1:], dtype=a.dtype) for a in (d if isinstance(d, list) else [d])]
            for d in (x, y)
        ]

    def __len__(self) -> int:
        return -(-self.n // self.batch_size)

    def __iter__(self) -> Any:
        n, size = self.n, self.batch_size
        order = self.rng.permutation(n) if self.shuffle else None
        for start in range(0, n, size):
            rows = min(size, n - start)
            lo, hi = shard_bounds(rows, self.rank, self.size)
            if order is None:
                part = slice(start + lo, start + hi)
                yield _rows(self.x, part), _rows(self.y, part), (lo, hi, rows)
                continue
            index = order[start + lo : start + hi]
            out = []
            for data, bufs in zip((self.x, self.y), self._bufs):
                arrays = data if isinstance(data, list) else [data]
                taken = [np.take(a, index, axis=0, out=b[: len(index)], mode="clip") for a, b in zip(arrays, bufs)]
                out.append(taken if isinstance(data, list) else taken[0])
            yield out[0], out[1], (lo, hi, rows)


def _check_batches(n: int, batch_size: int, size: int) -> None:
    """Every rank needs at least one row of every step (an empty shard cannot run a forward pass)."""
    smallest = min(batch_size, n) if n % batch_size == 0 or n < batch_size else n % batch_size
    if smallest < size:
        raise ConfigError(
            f"distributed fit: a step of {smallest} sample(s) cannot give each of {size} ranks at least one "
            f"(n = {n}, batch_size = {batch_size}); hint: use batch_size >= {size} and a sample count whose "
            f"last batch (n % batch_size) is 0 or >= {size}, or fewer ranks"
        )


def _metric_state(model: Any) -> list[float]:
    return [v for m in model.metrics for v in (m.total, m.count)]


def _set_metric_state(model: Any, values: Array) -> None:
    for k, m in enumerate(model.metrics):
        m.total, m.count = float(values[2 * k]), int(round(values[2 * k + 1]))


def _metric_logs(model: Any) -> dict[str, float]:
    return {m.name: m.result() for m in model.metrics}


def _reduce_logs(comm: Communicator, model: Any, loss_sum: float, seen: int) -> dict[str, float]:
    """Loss and metrics over every rank's rows: one Allreduce of [loss sum, rows, (total, count) per metric]."""
    buf = np.array([loss_sum, float(seen), *_metric_state(model)], dtype=np.float64)
    comm.allreduce_(buf)
    _set_metric_state(model, buf[2:])
    return {"loss": float(buf[0] / max(buf[1], 1.0)), **_metric_logs(model)}


def evaluate(model: Any, x: Any, y: Any, batch_size: int | None = 32,
             comm: Communicator | None = None) -> dict[str, float]:
    """``Model.evaluate`` with the samples split over the ranks (contiguous parts) and the sums reduced."""
    comm = world() if comm is None else comm
    model.require_compiled("evaluate")
    x, y = prepare_xy(model, x, y)
    n = _count(y)
    batch_size = _check_batch_size(batch_size, n)
    lo, hi = shard_bounds(n, comm.rank, comm.size)
    for metric in model.metrics:
        metric.reset()
    total = 0.0
    with model.workspaces():
        for start in range(lo, hi, batch_size):
            part = slice(start, min(start + batch_size, hi))
            xb, yb = _rows(x, part), _rows(y, part)
            y_pred = model.forward(xb, training=False)
            total += model._loss_value(yb, y_pred, update_metrics=True) * _count(yb)
    logs = _reduce_logs(comm, model, total, hi - lo)
    logs["loss"] += model.regularization_penalty()
    return logs


def _check_batch_size(batch_size: int | None, n: int) -> int:
    if batch_size is None:
        return 32
    if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) or batch_size <= 0:
        raise ConfigError(f"batch_size must be a positive integer, got {batch_size!r}")
    if n == 0:
        raise ShapeError("fit needs at least one training sample, got 0")
    return int(batch_size)


def broadcast_state(model: Any, comm: Communicator, root: int = 0, optimizer: bool = True) -> None:
    """Every parameter (trainable and not) and, with ``optimizer``, the optimizer's state (slots and
    step count) from ``root`` to all ranks."""
    pack = model._pack
    packed = pack is not None and pack.covers(model.parameters(trainable_only=True))
    if packed:
        comm.bcast_(pack.values, root)
    for p in model.parameters():
        if not (packed and p._pack is pack):
            value = np.ascontiguousarray(p.value)
            comm.bcast_(value, root)
            p.value = value
    if optimizer and comm.size > 1:
        state = comm.bcast_object(model.optimizer.get_state() if comm.rank == root else None, root)
        model.optimizer.set_state(state)


def share_run_state(model: Any, comm: Communicator, rng: np.random.Generator, history: History,
                    initial_epoch: int) -> int:
    """Rank 0's run on every rank before the first step: weights, optimizer state, the epoch to start at and,
    after a resume (``BackupAndRestore`` runs on rank 0 only), its generators and history. Returns the epoch."""
    broadcast_state(model, comm)
    if comm.size == 1:
        return initial_epoch
    generators = _generators(model)
    lead = comm.rank == 0
    shared = comm.bcast_object((
        initial_epoch, rng.bit_generator.state, backend.generator().bit_generator.state,
        {key: g.bit_generator.state for key, g in generators.items()}, history.history, history.epoch,
    ) if lead else None)
    initial_epoch, rng.bit_generator.state, backend.generator().bit_generator.state, states, logs, done = shared
    if set(states) != set(generators):
        raise ConfigError(f"distributed fit: rank 0's random generators {sorted(states)} are not rank "
                          f"{comm.rank}'s {sorted(generators)}; hint: build the same model on every rank")
    for key, generator in generators.items():
        generator.bit_generator.state = states[key]
    if not lead:
        history.history = {key: list(values) for key, values in logs.items()}
        history.epoch = list(done)
    return int(initial_epoch)


def fit(
    model: Any,
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
    sync_batch_norm: bool = False,
    bucket_bytes: int | None = None,
    comm: Communicator | None = None,
    abort_on_error: bool = True,
) -> History:
    """Train ``model`` data-parallel over the processes of ``comm`` (default ``world()``); see the module.

    Every rank calls it with the same arguments and the whole data set. ``batch_size`` is the global
    batch. With one process it is ``Model.fit`` (same weights bit for bit). ``sync_batch_norm=True``
    computes the BatchNormalization statistics over the global batch. On any exception with more than
    one rank, ``abort_on_error`` prints it (with the rank) and aborts every rank (exit status 1).

    Returns the ``History`` (identical on every rank), with ``history.distributed``: ranks, steps, and
    per rank the seconds of all steps (``step_s``) and, of those, in the gradient Allreduce (``comm_s``).
    """
    comm = world() if comm is None else comm
    check_bucket_bytes(bucket_bytes)
    try:
        return _fit(model, x, y, epochs, batch_size, validation_split, validation_data, shuffle, callbacks,
                    verbose, seed, initial_epoch, sync_batch_norm, bucket_bytes, comm)
    except BaseException as exc:
        if comm.size > 1 and abort_on_error and not isinstance(exc, SystemExit):
            report_and_abort(comm, exc)
        raise


def _fit(model: Any, x: Any, y: Any, epochs: int, batch_size: int | None, validation_split: float,
         validation_data: Any, shuffle: bool, callbacks: list[Any] | None, verbose: Any, seed: int | None,
         initial_epoch: int, sync_batch_norm: bool, bucket_bytes: int | None, comm: Communicator) -> History:
    model.require_compiled("fit")
    lead = comm.rank == 0
    if seed is None:  # one seed for all: rank 0 draws it
        seed = comm.bcast_object(int(backend.make_generator(None).integers(2**63)) if lead else None)
    rng = backend.make_generator(seed)  # from here on, the generator calls of training.fit
    if not model.built:
        with backend.using_generator(np.random.default_rng(rng.integers(2**63))):
            model.build(np.shape(x[0] if isinstance(x, list) else x)[1:])
    x, y = prepare_xy(model, x, y)
    if validation_data is not None:
        if len(validation_data) != 2:
            raise ConfigError("validation_data must be a pair (x_val, y_val)")
        x_val, y_val = validation_data
    elif validation_split:
        if not 0.0 <= validation_split < 1.0:
            raise ConfigError(f"validation_split must be in [0, 1), got {validation_split!r}")
        cut = _count(x) - int(_count(x) * validation_split)  # Keras: the last fraction, before shuffling
        head, tail = slice(None, cut), slice(cut, None)
        x, y, x_val, y_val = _rows(x, head), _rows(y, head), _rows(x, tail), _rows(y, tail)
    else:
        x_val = y_val = None
    n = _count(x)
    batch_size = _check_batch_size(batch_size, n)
    _check_batches(n, batch_size, comm.size)
    if seed is not None:
        model.reseed(np.random.default_rng(rng.integers(2**63)))
    batches = _ShardedBatches(x, y, batch_size, shuffle, rng, comm)
    history = History()
    progress = make_progress(verbose) if lead else None
    user = (callbacks or []) if lead else []
    cbs = CallbackList([*user, history, *([progress] if progress else [])], model,
                       {"epochs": epochs, "steps": len(batches), "verbose": verbose if lead else 0})
    per_batch = bool(comm.bcast_object(cbs.wants_batches))
    model.stop_training = False
    model.history = history
    if lead:
        cbs.on_train_begin()
        initial_epoch = cbs.restore_run(FitState(rng, history, initial_epoch, epochs))  # BackupAndRestore
    initial_epoch = share_run_state(model, comm, rng, history, initial_epoch)
    _follow_lead_settings(model, comm)
    with model.training_session():
        step = DistributedStep(model, comm, sync_batch_norm, bucket_bytes)
        for epoch in range(initial_epoch, epochs):
            logs = _run_epoch(model, batches, cbs, epoch, comm, per_batch, step)
            if step.sync is None and comm.size > 1:
                _average_moving_statistics(step.norms, comm)
            if x_val is not None:
                val = evaluate(model, x_val, y_val, batch_size=batch_size, comm=comm)
                logs.update({f"val_{k}": v for k, v in val.items()})
            if model.optimizer.last_learning_rate is not None:
                logs["learning_rate"] = model.optimizer.last_learning_rate
            if lead:
                cbs.on_epoch_end(epoch, logs)
                cbs.after_epoch(epoch)  # BackupAndRestore writes rank 0's state, which every rank shares
            _follow_lead(model, comm, history, epoch, logs, lead)
            if model.stop_training:
                break
    if lead:
        cbs.on_train_end()
    broadcast_state(model, comm, optimizer=False)  # a callback on rank 0 may have changed its weights
    history.distributed = _timing_record(comm, step)  # type: ignore[attr-defined]
    return history


def _timing_record(comm: Communicator, step: DistributedStep) -> dict[str, Any]:
    per_rank = comm.gather_object({"step_s": step.step_s, "comm_s": step.comm_s})
    return comm.bcast_object({
        "ranks": comm.size,
        "steps": step.steps,
        "gradient_bytes": step.gradient_bytes,
        "buckets": len(step.buckets) if step.buckets is not None else 1,
        "overlap": bool(step.buckets is not None and step.buckets.overlap),
        "step_s": [r["step_s"] for r in per_rank] if per_rank else None,
        "comm_s": [r["comm_s"] for r in per_rank] if per_rank else None,
    })


def _follow_lead_settings(model: Any, comm: Communicator) -> None:
    """Rank 0's ``stop_training`` and learning rate on every rank (after callbacks that may change them)."""
    if comm.size == 1:
        return
    lr = model.optimizer.learning_rate
    stop, rate = comm.bcast_object((model.stop_training, None if callable(lr) else lr))
    model.stop_training = stop
    if rate is not None:
        model.optimizer.learning_rate = rate


def _follow_lead(model: Any, comm: Communicator, history: History, epoch: int, logs: dict[str, Any],
                 lead: bool) -> None:
    """Rank 0's logs, stop flag and learning rate (its callbacks may change them) on every rank."""
    if comm.size == 1:
        return
    lr = model.optimizer.learning_rate
    control = comm.bcast_object((logs, model.stop_training, None if callable(lr) else lr) if lead else None)
    if not lead:
        logs, model.stop_training, rate = control
        if rate is not None:
            model.optimizer.learning_rate = rate
        history.on_epoch_end(epoch, logs)


def _average_moving_statistics(norms: list[BatchNormalization], comm: Communicator) -> None:
    """Per-rank BatchNormalization statistics: every rank keeps the mean of the ranks' moving averages."""
    for layer in norms:
        for p in (layer.moving_mean, layer.moving_variance):
            value = np.ascontiguousarray(p.value)
            comm.allreduce_(value)
            value *= value.dtype.type(1.0 / comm.size)
            p.value = value


def _run_epoch(model: Any, batches: _ShardedBatches, cbs: CallbackList, epoch: int, comm: Communicator,
               per_batch: bool, step: DistributedStep) -> dict[str, Any]:
    lead = comm.rank == 0
    if lead:
        cbs.on_epoch_begin(epoch)
    _follow_lead_settings(model, comm)  # e.g. LearningRateScheduler sets the rate here
    for metric in model.metrics:
        metric.reset()
    loss_sum, seen = 0.0, 0
    for k, (xb, yb, shard) in enumerate(batches):
        if per_batch and lead:
            cbs.on_batch_begin(k)
        loss = step(xb, yb, shard)
        m = shard[1] - shard[0]
        loss_sum += loss * m
        seen += m
        if per_batch:
            state = _metric_state(model)
            logs = _reduce_logs(comm, model, loss_sum, seen)
            _set_metric_state(model, np.array(state))  # keep the local sums; the epoch end reduces them
            if lead:
                cbs.on_batch_end(k, logs)
            _follow_lead_settings(model, comm)
        if model.stop_training:
            break
    return _reduce_logs(comm, model, loss_sum, seen)


__all__ = ["broadcast_state", "evaluate", "fit", "shard_bounds", "share_run_state"]
