"""``Workspace``: arrays a layer reuses from one batch to the next while a model trains or predicts.

Writing each batch's results into the same memory (``np.matmul(..., out=...)``, in-place activations)
instead of allocating new arrays is the largest single speed-up of the training loop. It is only safe
where nobody keeps a result past the next batch, so a model switches workspaces on for the duration of
``fit`` / ``evaluate`` / the batched ``predict`` loop (``Model.workspaces``). Outside those loops a
layer's ``workspace`` is ``None`` and every call returns fresh arrays: ``y1 = layer.forward(a);
y2 = layer.forward(b)`` never changes ``y1``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .._typing import Array


class Workspace:
    """Named buffers that grow to the largest batch seen; ``get`` returns the first ``rows`` rows."""

    def __init__(self) -> None:
        self._arrays: dict[str, Array] = {}

    def get(self, name: str, rows: int, tail: tuple[int, ...], dtype: Any) -> Array:
        """A C-contiguous ``(rows, *tail)`` array of ``dtype``; its content is left over from earlier use."""
        buffer = self._arrays.get(name)
        if buffer is None or buffer.shape[0] < rows or buffer.shape[1:] != tail or buffer.dtype != dtype:
            buffer = np.empty((rows, *tail), dtype=dtype)
            self._arrays[name] = buffer
        return buffer[:rows]

    def nbytes(self) -> int:
        """Memory held, in bytes."""
        return sum(a.nbytes for a in self._arrays.values())
