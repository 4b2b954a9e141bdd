"""Gradient buckets: the flat gradient summed over ranks in parts, each started as soon as backward fills it.

The flat gradient buffer ``ParameterPack.grads`` holds the parameters in model order, so backward (last
layer first) fills it from the end. ``GradientBuckets`` cuts it, at parameter boundaries and from the end,
into buckets of at least ``bucket_bytes`` (the last bucket, at the start of the buffer, may be smaller):

    grads = [ bucket K-1 | ... | bucket 1 | bucket 0 ]      bucket 0 = the last layers' parameters

During backward, each layer with parameters in a bucket reports when its ``backward`` returns; when all
of a bucket's layers have, the bucket is scaled by this rank's share m_r / b and its sum over the ranks is
started with a non-blocking ``Iallreduce``, while backward goes on through the layers below. After
backward, ``finish`` waits for every bucket. Each element of the gradient is summed over the same ranks as
with one bucket, so with 2 ranks the result is the one-bucket result bit for bit (for more ranks MPI may
pick another reduction order for another message size: equal up to the order of the sums).

Overlap needs a gradient that backward alone writes: a model whose layers each run once (a ``Sequential``
without nested models) and without weight penalties (``_add_regularization`` adds to ``.grad`` after
backward, while the early buckets are in flight). Other models get the same buckets reduced after
backward (no overlap). MPICH moves a non-blocking message on only inside MPI calls, so each report also
tests the requests in flight (``Communicator.poll``), which lets the allreduce progress during backward.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .._typing import Array
from ..errors import ConfigError
from .comm import Communicator


def check_bucket_bytes(bucket_bytes: Any) -> None:
    """Refuse a ``bucket_bytes`` that is not ``None`` or a positive integer."""
    if bucket_bytes is None:
        return
    if isinstance(bucket_bytes, bool) or not isinstance(bucket_bytes, (int, np.integer)) or bucket_bytes <= 0:
        raise ConfigError(f"distributed fit: bucket_bytes must be a positive integer, got {bucket_bytes!r}; "
                          "hint: e.g. bucket_bytes=1 << 20 (1 MB), or None for one Allreduce per step")


def bucket_bounds(sizes: list[int], itemsize: int, bucket_bytes: int) -> list[tuple[int, int]]:
    """Element ranges lo:hi of the flat buffer, last parameters first, each >= ``bucket_bytes`` (but one).

    ``sizes`` are the parameters' element counts in buffer order; a parameter is never split.
    """
    bounds: list[tuple[int, int]] = []
    hi = sum(sizes)
    lo = hi
    for n in reversed(sizes):
        lo -= n
        if (hi - lo) * itemsize >= bucket_bytes:
            bounds.append((lo, hi))
            hi = lo
    if hi > 0 or not bounds:
        bounds.append((0, hi))
    return bounds


class GradientBuckets:
    """Sums ``pack.grads`` over the ranks of ``comm`` bucket by bucket, overlapping backward if it can.

    Args:
        model: The model being trained (its leaf layers report the end of their backward).
        pack: Its ``ParameterPack`` over the trainable parameters.
        comm: The ranks.
        bucket_bytes: Smallest bucket size in bytes (> 0).
    """

    def __init__(self, model: Any, pack: Any, comm: Communicator, bucket_bytes: int) -> None:
        check_bucket_bytes(bucket_bytes)
        self.comm, self.grads = comm, pack.grads
        sizes = [int(np.prod(shape, dtype=np.int64)) for shape in pack.shapes]
        self.bounds = bucket_bounds(sizes, self.grads.itemsize, int(bucket_bytes))
        self.views: list[Array] = [self.grads[lo:hi] for lo, hi in self.bounds]
        where = {id(p): k for k, p in enumerate(pack.params)}
        starts = [pack.offsets[k] for k in range(len(pack.params))]
        self._layers: list[Any] = []
        self._buckets_of: dict[int, list[int]] = {}
        for layer in _leaf_layers(model):
            owned = {where[id(p)] for p in layer.parameters(trainable_only=True) if id(p) in where}
            if owned:
                hit = sorted({b for b, (lo, hi) in enumerate(self.bounds) for k in owned if lo <= starts[k] < hi})
                self._layers.append(layer)
                self._buckets_of[id(layer)] = hit
        self._needed = [sum(b in hit for hit in self._buckets_of.values()) for b in range(len(self.bounds))]
        self.overlap = _layers_run_once(model) and not getattr(model, "_regularized", None)
        self._pending: list[int] = []
        self._done: set[int] = set()
        self._requests: list[Any] = []
        self._started = [False] * len(self.bounds)
        self._share = 1.0

    def __len__(self) -> int:
        return len(self.bounds)

    def begin(self, share: float) -> None:
        """Before this rank's backward of one step, with its share m_r / b of the global batch."""
        self._share, self._pending, self._done = share, list(self._needed), set()
        self._requests, self._started = [], [False] * len(self.bounds)
        if self.overlap:
            for layer in self._layers:
                _report_after_backward(layer, self._reported)

    def _reported(self, layer: Any) -> None:
        if id(layer) in self._done:  # backward_preactivation may call backward: count a layer once
            return
        self._done.add(id(layer))
        for b in self._buckets_of[id(layer)]:
            self._pending[b] -= 1
            if self._pending[b] == 0:
                self._start(b)
        self.comm.poll(self._requests)

    def _start(self, b: int) -> None:
        view = self.views[b]
        view *= view.dtype.type(self._share)
        self._requests.append(self.comm.iallreduce_(view))
        self._started[b] = True

    def finish(self) -> None:
        """After backward: start the buckets not started yet (in bucket order) and wait for all of them."""
        if self.overlap:
            for layer in self._layers:
                _stop_reporting(layer)
        for b, started in enumerate(self._started):
            if not started:
                self._start(b)
        self.comm.wait_all(self._requests)
        self._requests = []

    def abandon(self) -> None:
        """After a failed step: stop the reports (the requests are left to ``MPI_Abort``)."""
        for layer in self._layers:
            _stop_reporting(layer)


def _leaf_layers(model: Any) -> list[Any]:
    out: list[Any] = []
    for layer in getattr(model, "layers", []):
        out += _leaf_layers(layer) if hasattr(layer, "layers") and hasattr(layer, "compile") else [layer]
    return out


def _layers_run_once(model: Any) -> bool:
    """A Sequential of distinct plain layers: each layer's backward runs once per step."""
    from ..models.sequential import Sequential

    layers = list(getattr(model, "layers", []))
    plain = all(not (hasattr(layer, "layers") and hasattr(layer, "compile")) for layer in layers)
    return isinstance(model, Sequential) and plain and len({id(layer) for layer in layers}) == len(layers)


def _report_after_backward(layer: Any, report: Any) -> None:
    """Shadow the layer's ``backward`` and ``backward_preactivation`` on the instance for one step."""
    cls = type(layer)

    def backward(grad: Array) -> Array | None:
        out = cls.backward(layer, grad)
        report(layer)
        return out

    def backward_preactivation(grad: Array) -> Array | None:
        out = cls.backward_preactivation(layer, grad)
        report(layer)
        return out

    layer.__dict__["backward"] = backward
    layer.__dict__["backward_preactivation"] = backward_preactivation


def _stop_reporting(layer: Any) -> None:
    layer.__dict__.pop("backward", None)
    layer.__dict__.pop("backward_preactivation", None)


__all__ = ["GradientBuckets", "bucket_bounds", "check_bucket_bytes"]
