"""Gradient through time: ||dL/dh_t|| per time step of every recurrent layer, for ``GradientMonitor``.

For a recurrent layer with hidden states h_1 .. h_T (processing order), the monitor records per
monitored epoch

    norms[t] = mean over the epoch's batches of ( mean over the batch of ||dL/dh_t|| )

where dL/dh_t is the total gradient reaching h_t (from the output at step t, if the layer returns
sequences, and from step t + 1). The layers compute it in their own backward loop
(``Recurrent.record_state_grads``); the recorder turns that on for the monitored epochs only, so an
unmonitored epoch keeps nothing and computes nothing. A ``Bidirectional`` layer is two rows,
``"<path>/forward"`` and ``"<path>/backward"``.

When batches of one epoch differ in length T (variable-length data), the norms of the most common
length are averaged and the others left out (a curve over t needs one t axis).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .._typing import Array
from ..layers._recurrent_base import Recurrent


def recurrent_layers(layers: list[tuple[str, Any]]) -> list[tuple[str, Recurrent]]:
    """``(path, layer)`` for every recurrent layer among ``layers``, the two halves of a Bidirectional included."""
    found: list[tuple[str, Recurrent]] = []
    for path, layer in layers:
        if isinstance(layer, Recurrent):
            found.append((path, layer))
            continue
        halves = [(side, getattr(layer, f"{side}_layer", None)) for side in ("forward", "backward")]
        found += [(f"{path}/{side}", half) for side, half in halves if isinstance(half, Recurrent)]
    return found


class StateGradRecorder:
    """Turns the layers' per-step recording on for monitored epochs and averages it over the batches."""

    def __init__(self, layers: list[tuple[str, Any]]) -> None:
        self.layers = recurrent_layers(layers)
        self._sums: dict[str, dict[int, tuple[Array, int]]] = {}

    def start_epoch(self, monitored: bool) -> None:
        for _, layer in self.layers:
            layer.record_state_grads = monitored
            layer.state_grad_norms = None
        self._sums = {path: {} for path, _ in self.layers}

    def collect(self) -> None:
        """Add the norms of the batch just trained (layers that ran no backward this batch add nothing)."""
        for path, layer in self.layers:
            norms = layer.state_grad_norms
            if norms is None:
                continue
            by_length = self._sums[path]
            total, count = by_length.get(len(norms), (np.zeros(len(norms)), 0))
            by_length[len(norms)] = (total + norms, count + 1)
            layer.state_grad_norms = None

    def end_epoch(self, epoch: int) -> list[dict[str, Any]]:
        """Rows ``{epoch, layer, norms, batches}`` for the epoch (none for a layer that recorded nothing)."""
        rows = []
        for path, by_length in self._sums.items():
            if not by_length:
                continue
            total, count = max(by_length.values(), key=lambda pair: pair[1])
            rows.append({"epoch": epoch, "layer": path, "norms": [float(v) for v in total / count], "batches": count})
        self._sums = {path: {} for path, _ in self.layers}
        return rows

    def stop(self) -> None:
        for _, layer in self.layers:
            layer.record_state_grads = False
