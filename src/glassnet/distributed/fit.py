"""Data-parallel ``fit``: every process trains the same model on its shard of each global batch.

With p processes (ranks) and a step over a global batch of b rows (``batch_size``, or the shorter last
batch), rank r takes the contiguous rows lo_r = floor(r b / p) .. hi_r = floor((r + 1) b / p) of that
batch, m_r = hi_r - lo_r of them. Each rank computes J_r, the mean loss over its m_r rows plus the
penalties R, and its gradient g_r (``Model.compute_loss_and_gradients``). Since sum_r m_r = b,

    sum_r (m_r / b) g_r = (1/b) sum_i dL_i/dtheta + dR/dtheta = the one-process gradient on b rows,

so each rank scales its flat gradient buffer by m_r / b and an in-place ``Allreduce`` (sum) over
``ParameterPack.grads`` (one, or one per bucket: ``bucket_bytes``) gives every rank that gradient;
every rank then takes the same optimizer step (``DistributedStep``). The result does not depend on p
beyond the order of floating-point sums:

- the epoch's permutation comes from the shared seed (the same generator calls as ``Model.fit``);
- rank 0's weights (and optimizer state, if any) are broadcast before the first step;
- Dropout draws, for its rows, exactly the bits one process would draw for the whole batch
  (``Dropout.shard``), so every sample gets the mask it gets in one process;
- BatchNormalization uses each rank's statistics by default (not exact: statistics of m_r rows, and
  the moving averages are averaged over ranks after each epoch); ``sync_batch_norm=True`` sums the
  statistics and the two backward sums over ranks (``BatchNormalization.sync``): exact.

The loop is ``Model.fit``'s (``models.training.fit``); ``ParallelFit`` is what it plugs into that loop's
``parallel`` seam: the sharded batches, the step, the logs summed over ranks (the loss and every metric's
``total``/``count``: one small Allreduce per epoch, or per step when a callback has batch hooks), the
validation split over ranks, and the callbacks. Those, the progress bar and everything they write run on
rank 0 only; after each hook rank 0 broadcasts ``stop_training`` and the learning rate (callbacks may
change them), after each epoch its logs (every rank's ``History`` is the same), and at the end its weights.
``BackupAndRestore`` writes rank 0's state (which every rank shares) and, on resume, rank 0 reads it and
broadcasts it (``share_run_state``). A signal (``model.interrupted``) is agreed on after every step, so all
ranks stop after the same step.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .. import backend
from ..callbacks import CallbackList, History
from ..callbacks.base import FitState, Logs
from ..models import training
from .buckets import check_bucket_bytes
from .comm import Communicator, report_and_abort, world
from .shards import ShardedBatches, evaluate, reduce_logs, shard_bounds
from .state import (
    average_moving_statistics,
    broadcast_state,
    follow_lead_logs,
    follow_lead_settings,
    share_run_state,
)
from .step import DistributedStep


class ParallelFit:
    """The ``parallel`` seam of ``models.training.fit`` for rank ``comm.rank`` (see the module)."""

    def __init__(self, model: Any, comm: Communicator, sync_batch_norm: bool = False,
                 bucket_bytes: int | None = None) -> None:
        self.model, self.comm = model, comm
        self.several = comm.size > 1
        self.sync_batch_norm, self.bucket_bytes = sync_batch_norm, bucket_bytes
        self.step: DistributedStep | None = None  # built at the first step, inside the training session
        self._batches: ShardedBatches | None = None
        self._stopped = False

    def batches(self, x: Any, y: Any, batch_size: int, shuffle: bool, rng: np.random.Generator) -> ShardedBatches:
        self._batches = ShardedBatches(x, y, batch_size, shuffle, rng, self.comm)
        return self._batches

    def callbacks(self, cbs: CallbackList) -> CallbackList:
        return _RankCallbacks(cbs, self)

    def train_step(self, data: Any) -> dict[str, float]:
        if self.step is None:
            self.step = DistributedStep(self.model, self.comm, self.sync_batch_norm, self.bucket_bytes)
        assert self._batches is not None
        xb, yb = data
        loss = self.step(xb, yb, self._batches.shard)
        if self.several:  # every rank stops after the same step, whichever rank got the signal
            flag = np.array([1.0 if getattr(self.model, "interrupted", False) else 0.0])
            self._stopped = bool(self.comm.allreduce_(flag)[0] > 0)
        added = self.model._last_added
        return {"loss": loss, **added} if added else {"loss": loss}

    def interrupted(self, model: Any) -> bool:
        return self._stopped if self.several else bool(getattr(model, "interrupted", False))

    def evaluate(self, x: Any, y: Any, batch_size: int | None = 32, verbose: Any = 0) -> dict[str, float]:
        return evaluate(self.model, x, y, batch_size=batch_size, comm=self.comm)

    def batch_logs(self, model: Any, totals: dict[str, float], seen: int) -> dict[str, float]:
        return reduce_logs(self.comm, model, totals, seen, keep_local=True)  # the epoch end reduces the sums

    def epoch_logs(self, model: Any, totals: dict[str, float], seen: int) -> dict[str, float]:
        logs = reduce_logs(self.comm, model, totals, seen)
        if self.several and self.step is not None and self.step.sync is None:
            average_moving_statistics(self.step.norms, self.comm)
        return logs

    def record(self) -> dict[str, Any]:
        """Ranks, steps, gradient bytes, buckets, and per rank the seconds of all steps (``step_s``) and of
        those, waiting for the gradient sum (``comm_s``): the same dict on every rank."""
        step = self.step
        per_rank = self.comm.gather_object({"step_s": step.step_s if step else 0.0,
                                            "comm_s": step.comm_s if step else 0.0})
        return self.comm.bcast_object({
            "ranks": self.comm.size,
            "steps": step.steps if step else 0,
            "gradient_bytes": step.gradient_bytes if step else 0,
            "buckets": len(step.buckets) if step and step.buckets is not None else 1,
            "overlap": bool(step and step.buckets is not None and step.buckets.overlap),
            "step_s": [r["step_s"] for r in per_rank] if per_rank else None,
            "comm_s": [r["comm_s"] for r in per_rank] if per_rank else None,
        })


class _RankCallbacks(CallbackList):
    """Rank 0 runs the callbacks and broadcasts what they decide; the other ranks follow (their list holds
    only their ``History``, which gets rank 0's epoch logs)."""

    def __init__(self, inner: CallbackList, seam: ParallelFit) -> None:
        self.inner, self.seam, self.comm = inner, seam, seam.comm
        self.callbacks = inner.callbacks
        self.lead = self.comm.rank == 0
        self._wants_batches = bool(self.comm.bcast_object(inner.wants_batches))

    @property
    def wants_batches(self) -> bool:
        return self._wants_batches

    def on_train_begin(self, logs: Logs | None = None) -> None:
        if self.lead:
            self.inner.on_train_begin(logs)

    def restore_run(self, state: FitState) -> int:
        start = self.inner.restore_run(state) if self.lead else state.initial_epoch
        start = share_run_state(self.seam.model, self.comm, state.rng, state.history, start)
        follow_lead_settings(self.seam.model, self.comm)
        return start

    def on_epoch_begin(self, epoch: int, logs: Logs | None = None) -> None:
        if self.lead:
            self.inner.on_epoch_begin(epoch, logs)
        follow_lead_settings(self.seam.model, self.comm)  # e.g. LearningRateScheduler sets the rate here

    def on_batch_begin(self, batch: int, logs: Logs | None = None) -> None:
        if self.lead:
            self.inner.on_batch_begin(batch, logs)

    def on_batch_end(self, batch: int, logs: Logs | None = None) -> None:
        if self.lead:
            self.inner.on_batch_end(batch, logs)
        follow_lead_settings(self.seam.model, self.comm)

    def on_epoch_end(self, epoch: int, logs: Logs | None = None) -> None:
        if self.lead:
            self.inner.on_epoch_end(epoch, logs)
        shared = follow_lead_logs(self.seam.model, self.comm, logs or {})
        if not self.lead:
            self.inner.on_epoch_end(epoch, shared)

    def after_epoch(self, epoch: int) -> None:
        if self.lead:
            self.inner.after_epoch(epoch)  # BackupAndRestore writes rank 0's state, which every rank shares

    def on_train_end(self, logs: Logs | None = None) -> None:
        if self.lead:
            self.inner.on_train_end(logs)


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
    computes the BatchNormalization statistics over the global batch. ``bucket_bytes`` (e.g. ``1 << 20``)
    sums the gradient in buckets of at least that many bytes, each started during backward as soon as
    it is complete (``GradientBuckets``); ``None`` sums it in one Allreduce after backward. On any
    exception with more than one rank, ``abort_on_error`` prints it (with the rank) and aborts every rank
    (exit status 1). ``Model.train_step`` overrides are not used.

    Returns the ``History`` (identical on every rank), with ``history.distributed``: ranks, steps, buckets,
    and per rank the seconds of all steps (``step_s``) and, of those, waiting for the gradient sum (``comm_s``).
    """
    comm = world() if comm is None else comm
    check_bucket_bytes(bucket_bytes)
    try:
        lead = comm.rank == 0
        if seed is None:  # one seed for all: rank 0 draws it
            seed = comm.bcast_object(int(backend.make_generator(None).integers(2**63)) if lead else None)
        seam = ParallelFit(model, comm, sync_batch_norm, bucket_bytes)
        history = training.fit(model, x, y, epochs=epochs, batch_size=batch_size,
                               validation_split=validation_split, validation_data=validation_data,
                               shuffle=shuffle, callbacks=(callbacks or []) if lead else [],
                               verbose=verbose if lead else 0, seed=seed, initial_epoch=initial_epoch,
                               parallel=seam)
        broadcast_state(model, comm, optimizer=False)  # a callback on rank 0 may have changed its weights
        history.distributed = seam.record()  # type: ignore[attr-defined]
        return history
    except BaseException as exc:
        if comm.size > 1 and abort_on_error and not isinstance(exc, SystemExit):
            report_and_abort(comm, exc)
        raise


__all__ = ["ParallelFit", "broadcast_state", "evaluate", "fit", "shard_bounds", "share_run_state"]
