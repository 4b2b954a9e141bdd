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
    """Named ``(rows, width)`` buffers, one per distinct request (a loop sees one or two batch sizes)."""

    def __init__(self) -> None:
        self._arrays: dict[tuple[str, int, int, Any], Array] = {}

    def get(self, name: str, rows: int, width: int, dtype: Any) -> Array:
        """A C-contiguous ``(rows, width)`` array of ``dtype``; its content is left over from earlier use."""
        key = (name, rows, width, dtype)
        buffer = self._arrays.get(key)
        if buffer is None:
            buffer = self._arrays[key] = np.empty((rows, width), dtype=dtype)
        return buffer

    def nbytes(self) -> int:
        """Memory held, in bytes."""
        return sum(a.nbytes for a in self._arrays.values())
