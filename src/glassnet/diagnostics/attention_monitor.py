"""``AttentionMonitor``: per epoch, how spread out each attention head is on a fixed validation batch.

At the end of every monitored epoch the model runs (inference mode, one ``forward``) on a fixed batch
of up to ``size`` validation inputs, and for every ``MultiHeadAttention`` layer found in it (also the
ones inside ``TransformerEncoderBlock`` / ``TransformerDecoderBlock``, named ``"block/self_attention"``)
the attention probabilities P (batch, heads, T_q, T_k) it kept (``last_attention_scores``) give

    entropy[layer][epoch][h] = head_entropy(P)[h]     mean over rows i (with n_i >= 2 allowed keys) of
                                                      -sum_j P_ij log P_ij / log n_i   (0 = one key, 1 = uniform)

(``diagnostics.attention``). After the last monitored epoch the record also holds ``maps[layer]``, the
(heads, T_q, T_k) attention of the batch's ``example``-th input, for the report's pictures. The record
is ``history.attention`` (an ``AttentionRecord``), which ``diagnose`` reads for collapsed heads.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .._typing import Array
from ..callbacks.base import Callback, Logs
from ..errors import ConfigError
from ..layers.attention import MultiHeadAttention
from .attention import head_entropy
from .probe import model_layers, probe_count, probe_rows


@dataclass
class AttentionRecord:
    """What ``AttentionMonitor`` recorded: ``layers`` (paths, input side first), ``epochs`` (0-based, the
    monitored ones), ``entropy[layer]`` one list of per-head normalized entropies per monitored epoch,
    ``maps[layer]`` the (heads, T_q, T_k) attention of one validation input after the last one."""

    layers: list[str] = field(default_factory=list)
    epochs: list[int] = field(default_factory=list)
    entropy: dict[str, list[list[float]]] = field(default_factory=dict)
    maps: dict[str, Array] = field(default_factory=dict)
    batch_size: int = 0

    def last(self) -> dict[str, Array]:
        """Per layer, the per-head entropies of the last monitored epoch."""
        return {name: np.asarray(series[-1]) for name, series in self.entropy.items() if series}


def attention_layers(model: Any) -> list[tuple[str, MultiHeadAttention]]:
    """``(path, layer)`` for every ``MultiHeadAttention`` in ``model`` (blocks and nested models expanded)."""
    return [(path, layer) for path, layer in model_layers(model) if isinstance(layer, MultiHeadAttention)]


class AttentionMonitor(Callback):
    """Records each head's attention entropy per epoch on a fixed validation batch (see the module docstring).

    Args:
        x: The validation inputs (an array, or one array per input of a list-input model); the first
            ``size`` rows are used, the same ones every epoch.
        size: At most this many inputs (default 64).
        example: Which of them the attention maps show (default 0).
        every: Monitor every ``every``-th epoch (and always the last one).
    """

    def __init__(self, x: Any, size: int = 64, example: int = 0, every: int = 1) -> None:
        super().__init__()
        for name, value in (("size", size), ("every", every)):
            if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
                raise ConfigError(f"AttentionMonitor: {name} must be a positive integer, got {value!r}")
        if isinstance(x, (list, tuple)):
            self.x: Any = probe_rows([np.asarray(a) for a in x], slice(size))
        else:
            self.x = np.asarray(x)[:size]
        n = probe_count(self.x)
        if n == 0:
            raise ConfigError("AttentionMonitor: the validation batch x is empty; hint: pass validation inputs")
        if not 0 <= example < n:
            raise ConfigError(
                f"AttentionMonitor: example must be in [0, {n}), got {example!r} (the batch holds {n} inputs)"
            )
        self.example = example
        self.every = every
        self.record = AttentionRecord(batch_size=n)

    @classmethod
    def for_fit(cls, model: Any, x: Any, validation_split: float = 0.0, size: int = 64) -> AttentionMonitor | None:
        """A monitor on the validation rows ``fit(x, ..., validation_split=...)`` will hold out (its last
        fraction), or on the first rows of ``x`` without a split; None when ``model`` has no attention."""
        if not attention_layers(model):
            return None
        n = probe_count(x)
        n_val = int(n * validation_split)
        rows = slice(n - n_val, n - n_val + size) if n_val else slice(0, size)
        return cls(probe_rows(x, rows) if isinstance(x, (list, tuple)) else np.asarray(x)[rows], size=size)

    def on_train_begin(self, logs: Logs | None = None) -> None:
        self._layers = attention_layers(self.model)
        self.record = AttentionRecord(
            layers=[name for name, _ in self._layers],
            batch_size=probe_count(self.x),
            entropy={name: [] for name, _ in self._layers},
        )
        self._first: int | None = None
        history = getattr(self.model, "history", None)
        if history is not None and self._layers:
            history.attention = self.record

    def get_state(self) -> dict[str, Any]:
        """What ``BackupAndRestore`` saves, so that a resumed run keeps the entropies of earlier epochs."""
        return {"first": self._first, "epochs": list(self.record.epochs), "entropy": dict(self.record.entropy)}

    def set_state(self, state: dict[str, Any]) -> None:
        self._first = state["first"]
        self.record.epochs[:] = [int(e) for e in state["epochs"]]
        self.record.entropy.update(
            {name: [list(map(float, row)) for row in rows] for name, rows in state["entropy"].items()}
        )

    def on_epoch_end(self, epoch: int, logs: Logs | None = None) -> None:
        if self._first is None:
            self._first = epoch
        last = epoch + 1 >= self.params.get("epochs", epoch + 1) or getattr(self.model, "stop_training", False)
        if self._layers and ((epoch - self._first) % self.every == 0 or last):
            self.measure(epoch)

    def measure(self, epoch: int) -> None:
        """Run the batch through the model and record every layer's head entropies and example maps."""

        def cast(a: Array) -> Array:  # floats to the model's dtype; token ids stay integers
            return a.astype(self.model.dtype, copy=False) if np.issubdtype(a.dtype, np.floating) else a

        self.model.forward([cast(a) for a in self.x] if isinstance(self.x, list) else cast(self.x), training=False)
        self.record.epochs.append(epoch)
        for name, layer in self._layers:
            scores = layer.last_attention_scores
            if scores is None:
                continue
            self.record.entropy[name].append([float(v) for v in head_entropy(scores)])
            self.record.maps[name] = np.array(scores[self.example])


__all__ = ["AttentionMonitor", "AttentionRecord", "attention_layers"]
