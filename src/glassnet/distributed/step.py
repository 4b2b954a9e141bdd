"""One data-parallel training step: this rank's shard forward and backward, the gradient summed over ranks.

    g = sum_r (m_r / b) g_r          (m_r rows of rank r, b rows in the global batch; see ``fit``)

then the optimizer step, the same on every rank. The gradient is summed by one in-place ``Allreduce`` of
the flat buffer (``bucket_bytes=None``), or bucket by bucket during backward (``GradientBuckets``), or, for
a model whose parameters are not in one flat buffer, one ``Allreduce`` per parameter.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from .._typing import Array
from ..layers.dropout import Dropout
from ..layers.normalization import BatchNormalization
from .buckets import GradientBuckets, _leaf_layers
from .comm import Communicator


class _BatchNormSync:
    """What a synchronized BatchNormalization needs: the sum over ranks and this rank's share m / b."""

    def __init__(self, comm: Communicator) -> None:
        self.comm = comm
        self.share = 1.0

    def sum_(self, array: Array) -> Array:
        return self.comm.allreduce_(array)


class DistributedStep:
    """``step(xb, yb, shard) -> loss`` for rank ``comm.rank``, with ``shard = (lo, hi, rows)`` of the global
    batch; adds its seconds to ``step_s`` and, of those, the wait for the gradient sum to ``comm_s``.

    Args:
        model: The compiled model, inside its ``training_session`` (the parameter lists are set).
        comm: The ranks.
        sync_batch_norm: Sum the BatchNormalization statistics over the ranks (exact) instead of per rank.
        bucket_bytes: ``None``: one Allreduce after backward; else buckets of at least this many bytes,
            each summed (non-blocking) as soon as backward has filled it.
    """

    def __init__(self, model: Any, comm: Communicator, sync_batch_norm: bool = False,
                 bucket_bytes: int | None = None) -> None:
        self.model, self.comm = model, comm
        self.several = comm.size > 1
        layers = _leaf_layers(model)
        self.dropouts = [layer for layer in layers if isinstance(layer, Dropout)]
        self.norms = [layer for layer in layers if isinstance(layer, BatchNormalization)]
        self.sync = _BatchNormSync(comm) if sync_batch_norm and self.several else None
        self.params = model._trainable_params
        pack = model._pack
        self.flat = pack is not None and pack.covers(self.params)
        self.grads = [pack.grads] if self.flat else [np.ascontiguousarray(p.grad) for p in self.params]
        use_buckets = bucket_bytes is not None and self.flat and self.several
        self.buckets = GradientBuckets(model, pack, comm, bucket_bytes) if use_buckets else None  # type: ignore[arg-type]
        self.step_s = self.comm_s = 0.0
        self.steps = 0

    @property
    def gradient_bytes(self) -> int:
        return int(sum(g.nbytes for g in self.grads))

    def __call__(self, xb: Any, yb: Any, shard: tuple[int, int, int]) -> float:
        start = time.perf_counter()
        lo, hi, rows = shard
        share = (hi - lo) / rows
        if self.several:
            self._enter(shard, share)
        try:
            loss = self.model.compute_loss_and_gradients(xb, yb, update_metrics=True)
        except BaseException:
            if self.buckets is not None:
                self.buckets.abandon()
            raise
        finally:
            self._leave()
        if self.several:
            middle = time.perf_counter()
            self._sum_gradients(share)
            self.comm_s += time.perf_counter() - middle
        self.model.optimizer.step(self.params)
        self.step_s += time.perf_counter() - start
        self.steps += 1
        return loss

    def _enter(self, shard: tuple[int, int, int], share: float) -> None:
        for layer in self.dropouts:
            layer.shard = shard
        if self.sync is not None:
            self.sync.share = share
            for norm in self.norms:
                norm.sync = self.sync
        if self.buckets is not None:
            self.buckets.begin(share)

    def _leave(self) -> None:
        for layer in self.dropouts:
            layer.shard = None
        for norm in self.norms:
            norm.sync = None

    def _sum_gradients(self, share: float) -> None:
        if self.buckets is not None:
            self.buckets.finish()
            return
        if self.flat:
            g = self.grads[0]
            g *= g.dtype.type(share)
            self.comm.allreduce_(g)
            return
        for p in self.params:
            g = np.ascontiguousarray(p.grad)
            g *= g.dtype.type(share)
            self.comm.allreduce_(g)
            p.grad = g


__all__ = ["DistributedStep"]
