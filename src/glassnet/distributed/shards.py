"""Each rank's rows: its shard of every global batch, its part of the evaluation data, and the log sums.

Rank r of p takes rows lo = floor(r b / p) .. hi = floor((r + 1) b / p) of a batch of b rows (shard sizes
differ by at most one). Loss and metric sums are then added over the ranks by one small ``Allreduce``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np

from .._typing import Array
from ..errors import ConfigError, ShapeError
from ..models.training import prepare_xy
from .comm import Communicator, world


def _count(x: Any) -> int:
    return len(x[0]) if isinstance(x, list) else len(x)


def _rows(x: Any, index: Any) -> Any:
    return [a[index] for a in x] if isinstance(x, list) else x[index]


def shard_bounds(rows: int, rank: int, size: int) -> tuple[int, int]:
    """Rows lo:hi of a batch of ``rows`` that ``rank`` of ``size`` takes (sizes differ by at most one)."""
    return rank * rows // size, (rank + 1) * rows // size


class ShardedBatches:
    """This rank's part ``(x, y)`` of each global batch, gathered into reused buffers (views when not
    shuffled); before yielding one it sets ``self.shard = (lo, hi, rows)``. The same generator calls as
    ``BatchIterator`` (one permutation per epoch), so every rank and one process see the same batches."""

    def __init__(self, x: Any, y: Any, batch_size: int, shuffle: bool, rng: np.random.Generator,
                 comm: Communicator) -> None:
        self.x, self.y, self.batch_size, self.shuffle, self.rng = x, y, batch_size, shuffle, rng
        self.rank, self.size = comm.rank, comm.size
        if y is None:
            raise ConfigError("distributed fit: needs targets y; hint: pass fit(model, x, y)")
        self.n = _count(y)
        check_batches(self.n, batch_size, self.size)
        width = -(-min(batch_size, self.n) // self.size)
        self._bufs = [
            [np.empty((width,) + a.shape[1:], dtype=a.dtype) for a in (d if isinstance(d, list) else [d])]
            for d in (x, y)
        ]
        self.shard = (0, 0, 0)

    def __len__(self) -> int:
        return -(-self.n // self.batch_size)

    def __iter__(self) -> Iterator[tuple[Any, Any]]:
        n, size = self.n, self.batch_size
        order = self.rng.permutation(n) if self.shuffle else None
        for start in range(0, n, size):
            rows = min(size, n - start)
            lo, hi = shard_bounds(rows, self.rank, self.size)
            self.shard = (lo, hi, rows)
            if order is None:
                part = slice(start + lo, start + hi)
                yield _rows(self.x, part), _rows(self.y, part)
                continue
            index = order[start + lo : start + hi]
            out = []
            for data, bufs in zip((self.x, self.y), self._bufs):
                arrays = data if isinstance(data, list) else [data]
                taken = [np.take(a, index, axis=0, out=b[: len(index)], mode="clip") for a, b in zip(arrays, bufs)]
                out.append(taken if isinstance(data, list) else taken[0])
            yield out[0], out[1]


def check_batches(n: int, batch_size: int, size: int) -> None:
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


def _set_metric_state(model: Any, values: Any) -> None:
    for k, m in enumerate(model.metrics):
        m.total, m.count = float(values[2 * k]), int(round(values[2 * k + 1]))


def reduce_logs(comm: Communicator, model: Any, totals: dict[str, float], seen: int,
                keep_local: bool = False) -> dict[str, float]:
    """Each key's mean over every rank's rows, then the metrics over every rank's rows: one Allreduce of
    [sum per key, rows, (total, count) per metric]. ``keep_local`` leaves the metrics' own sums as they were."""
    local = _metric_state(model)
    buf: Array = np.array([*totals.values(), float(seen), *local], dtype=np.float64)
    comm.allreduce_(buf)
    k = len(totals)
    _set_metric_state(model, buf[k + 1 :])
    rows = max(float(buf[k]), 1.0)
    logs = {key: float(buf[j] / rows) for j, key in enumerate(totals)}
    logs.update({m.name: m.result() for m in model.metrics})
    if keep_local:
        _set_metric_state(model, local)
    return logs


def evaluate(model: Any, x: Any, y: Any, batch_size: int | None = 32,
             comm: Communicator | None = None) -> dict[str, float]:
    """``Model.evaluate`` with the samples split over the ranks (contiguous parts) and the sums reduced."""
    comm = world() if comm is None else comm
    model.require_compiled("evaluate")
    x, y = prepare_xy(model, x, y)
    n = _count(y)
    if batch_size is None:
        batch_size = 32
    if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) or batch_size <= 0:
        raise ConfigError(f"batch_size must be a positive integer, got {batch_size!r}")
    if n == 0:
        raise ShapeError("evaluate needs at least one sample, got 0")
    lo, hi = shard_bounds(n, comm.rank, comm.size)
    for metric in model.metrics:
        metric.reset()
    total = 0.0
    with model.workspaces():
        for start in range(lo, hi, int(batch_size)):
            part = slice(start, min(start + int(batch_size), hi))
            xb, yb = _rows(x, part), _rows(y, part)
            y_pred = model.forward(xb, training=False)
            total += model._loss_value(yb, y_pred, update_metrics=True) * _count(yb)
    logs = reduce_logs(comm, model, {"loss": total}, hi - lo)
    logs["loss"] += model.regularization_penalty()
    return logs


__all__ = ["ShardedBatches", "check_batches", "evaluate", "reduce_logs", "shard_bounds"]
