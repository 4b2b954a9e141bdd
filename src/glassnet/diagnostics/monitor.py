"""``GradientMonitor``: what training does inside, per layer and epoch, for any model.

Per monitored epoch and per trainable layer it records

    grad_norm     ||g|| of each parameter (and of the layer's parameters together), mean over batches
    update_ratio  ||w_after - w_before|| / ||w_before|| of each step, mean over batches
                  (a rule of thumb puts a healthy ratio near 1e-3)
    state_grads   recurrent layers only: ||dL/dh_t|| per time step, mean over batches
                  (``diagnostics.state_grads``: the "gradient through time")

and, at the end of the epoch, on a fixed probe batch of up to 256 training samples (one array per
model input) run through the model's own ``forward`` in inference mode, each layer's output

    mean, std         over every probe sample, position and unit
    dead_fraction     ReLU-family units that output exactly 0 for every probe sample and position; a
                      unit is one index of the last axis (a feature, or a channel of (batch, T, C))
    saturated_fraction  sigmoid/tanh outputs within 1% of their bounds (sigmoid a < 0.01 or a > 0.99,
                        tanh |a| > 0.99), where the derivative is under 4% of its maximum

and, for convolutional layers (Conv1D/Conv2D/Conv2DTranspose) and any other layer with image outputs
(batch, h, w, channels), such as the ReLU after a conv and its batch normalization, per channel
(``Diagnostics.channels``, one row per channel; ReLU-family and sigmoid/tanh layers only)

    dead_fraction       the fraction of its outputs (probe samples x positions) that are exactly 0
    saturated_fraction  the fraction within 1% of the bounds, as above

"Layer" means every layer that computes, found by walking the model (``diagnostics.probe``): a model
nested in another is expanded, its layers named by their path ("inner/dense"), in the model's
topological order (input side first). The probe pass also records which layer feeds which and which
layers produce the model's outputs, so that ``diagnose`` can follow the paths of a graph. A layer's
nonlinearity is the name it declares as ``output_activation`` (Dense, the activation layers, PReLU).

The gradient read is the one the optimizer used (``on_batch_end`` runs after the step, so a clipping
optimizer's gradients are the clipped ones).
"""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .._typing import Array
from ..callbacks import CALLBACKS
from ..callbacks.base import Callback, Logs
from ..errors import ConfigError
from ..layers import Conv1D, Conv2D, Conv2DTranspose
from ..layers.recording import attach_record, detach_record
from .probe import model_layers, probe_count, probe_rows, run_probe, trainable_groups
from .state_grads import StateGradRecorder

RELU_FAMILY = ("relu", "leaky_relu", "prelu", "elu", "selu")
SATURATING = ("sigmoid", "tanh")
CSV_COLUMNS = (
    "epoch",
    "layer",
    "parameter",
    "grad_norm",
    "update_ratio",
    "activation",
    "mean",
    "std",
    "dead_fraction",
    "saturated_fraction",
)


@dataclass
class Diagnostics:
    """The monitor's record (``history.diagnostics``).

    ``gradients``: rows ``{epoch, layer, parameter, grad_norm, update_ratio}``; ``parameter`` is ``"*"``
    for the layer's parameters taken together. ``activations``: rows ``{epoch, layer, activation, mean,
    std, dead_fraction, saturated_fraction}``. ``loss``: the training loss of every epoch.
    ``layers``: the trainable layers' names, input side first (the model's topological order).
    ``feeds``: per layer, the layers that take its output; ``outputs``: the layers whose output is a
    model output (both from the probe pass; empty when none ran: ``diagnose`` then reads ``layers``
    as a chain). ``channels``: rows ``{epoch, layer, activation, channel, dead_fraction,
    saturated_fraction}``, per channel of a conv layer's (or image-shaped) output.
    """

    layers: list[str] = field(default_factory=list)
    gradients: list[dict[str, Any]] = field(default_factory=list)
    activations: list[dict[str, Any]] = field(default_factory=list)
    loss: list[float] = field(default_factory=list)
    feeds: dict[str, list[str]] = field(default_factory=dict)
    outputs: list[str] = field(default_factory=list)
    state_grads: list[dict[str, Any]] = field(default_factory=list)
    channels: list[dict[str, Any]] = field(default_factory=list)

    def epochs(self) -> list[int]:
        return sorted({row["epoch"] for row in self.gradients})

    def layer_series(self, key: str = "grad_norm") -> dict[str, list[float]]:
        """Per trainable layer, ``key`` of the whole layer over the monitored epochs."""
        out: dict[str, list[float]] = {name: [] for name in self.layers}
        for row in self.gradients:
            if row["parameter"] == "*":
                out[row["layer"]].append(row[key])
        return out

    def activation_series(self, key: str) -> dict[str, list[float]]:
        """Per layer, activation statistic ``key`` over the monitored epochs."""
        out: dict[str, list[float]] = {}
        for row in self.activations:
            out.setdefault(row["layer"], []).append(row[key])
        return out

    def rows(self) -> list[dict[str, Any]]:
        """Every record as one flat table (the columns of ``CSV_COLUMNS``; blanks where not applicable)."""
        rows = [{k: row.get(k, "") for k in CSV_COLUMNS} for row in self.gradients]
        rows += [{k: row.get(k, "") for k in CSV_COLUMNS} for row in self.activations]
        return sorted(rows, key=lambda r: r["epoch"])

    def write_csv(self, path: str | Path) -> None:
        """Write ``rows()`` as CSV (the CLI's ``diagnostics.csv``)."""
        with open(path, "w", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=CSV_COLUMNS)
            writer.writeheader()
            writer.writerows(self.rows())


def activation_name(layer: Any) -> str | None:
    """The name of the nonlinearity a layer applies last, as the layer declares it (``output_activation``:
    ``"relu"`` for ``Dense(8, activation="relu")``, ``"prelu"`` for PReLU), or None."""
    name = getattr(layer, "output_activation", None)
    return name if isinstance(name, str) else None


def activation_stats(a: Array, name: str | None) -> dict[str, float]:
    """mean, std, dead_fraction (ReLU family) and saturated_fraction (sigmoid/tanh) of outputs ``a``.

    A unit is one index of the last axis: of ``(batch, T, C)`` outputs, channel c is dead when
    a[n, t, c] == 0 for every n and t.
    """
    units = a.reshape(-1, a.shape[-1]) if a.ndim >= 2 else a.reshape(-1, 1)
    stats = {
        "mean": float(units.mean()),
        "std": float(units.std()),
        "dead_fraction": 0.0,
        "saturated_fraction": 0.0,
    }
    if name in RELU_FAMILY:
        stats["dead_fraction"] = float(np.mean(np.all(units == 0, axis=0)))
    elif name == "sigmoid":
        stats["saturated_fraction"] = float(np.mean(np.minimum(units, 1 - units) < 0.01))
    elif name == "tanh":
        stats["saturated_fraction"] = float(np.mean(np.abs(units) > 0.99))
    return stats


def channel_stats(a: Array, name: str | None) -> dict[str, Array]:
    """Per channel c of channels-last outputs ``a`` (batch, ..., C): ``dead_fraction`` = mean over
    samples and positions of [a[..., c] == 0] (ReLU family), ``saturated_fraction`` = mean of
    [a[..., c] within 1% of the bounds] (sigmoid, tanh); zeros where the test does not apply."""
    units = a.reshape(-1, a.shape[-1])
    zeros = np.zeros(units.shape[1])
    dead, saturated = zeros, zeros
    if name in RELU_FAMILY:
        dead = np.mean(units == 0, axis=0)
    elif name == "sigmoid":
        saturated = np.mean(np.minimum(units, 1 - units) < 0.01, axis=0)
    elif name == "tanh":
        saturated = np.mean(np.abs(units) > 0.99, axis=0)
    return {"dead_fraction": dead, "saturated_fraction": saturated}


def _has_channels(layer: Any, a: Array) -> bool:
    """Whether per-channel statistics are recorded for this layer's outputs (see the module docstring)."""
    return a.ndim >= 3 and (a.ndim == 4 or isinstance(layer, (Conv1D, Conv2D, Conv2DTranspose)))


class GradientMonitor(Callback):
    """Records gradient norms, update ratios and activation statistics (see the module docstring).

    Args:
        every: Monitor every ``every``-th epoch (1: all); unmonitored epochs cost nothing.
        probe: Inputs for the activation statistics (up to ``probe_size`` rows are used): an array, or
            for a model with several inputs a list with one array per input. ``None``: the first
            ``probe_size`` training inputs the model receives are kept (copied as the model's
            ``forward`` is called, through ``layers.recording``, until enough are held).
        probe_size: At most this many probe samples (default 256).
    """

    def __init__(self, every: int = 1, probe: Any = None, probe_size: int = 256) -> None:
        super().__init__()
        if isinstance(every, bool) or not isinstance(every, int) or every <= 0:
            raise ConfigError(f"GradientMonitor: every must be a positive integer, got {every!r}")
        self.every = every
        self.probe_size = int(probe_size)
        self._given_probe = probe
        self.probe: Any = probe  # as the model takes it once training begins
        self.diagnostics = Diagnostics()
        self._active = False
        self._capturing = False

    # -- setup --------------------------------------------------------------------------------------
    def on_train_begin(self, logs: Logs | None = None) -> None:
        self._layers = model_layers(self.model)
        groups = trainable_groups(self.model, self._layers)
        self.diagnostics = Diagnostics(layers=[name for name, _ in groups])
        self.probe = self._prepare_probe(self._given_probe)
        self._probe_parts: list[list[Array]] = []
        self._probe_is_list = False
        self._params = [p for _, params in groups for p in params]
        self._keys = [(layer, p.name) for layer, params in groups for p in params] + [(n, "*") for n, _ in groups]
        sizes = np.array([p.size for p in self._params], dtype=np.int64)
        self._param_starts = np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(np.int64)
        counts = np.array([len(params) for _, params in groups], dtype=np.int64)
        self._layer_starts = np.concatenate([[0], np.cumsum(counts)[:-1]]).astype(np.int64)
        pack = getattr(self.model, "_pack", None)
        self._pack = pack if pack is not None and pack.covers(self._params) else None
        self._squares = np.empty((3, int(sizes.sum())))  # float64 scratch: g^2, step^2, w_before^2
        history = getattr(self.model, "history", None)
        if history is not None:
            history.diagnostics = self.diagnostics
        self._first_epoch: int | None = None
        self._state_grads = StateGradRecorder(self._layers)

    def _prepare_probe(self, probe: Any) -> Any:
        """The given probe as the model takes it (a list of arrays for a list-input model), cut to size."""
        if probe is None:
            return None
        if getattr(self.model, "takes_input_list", False):
            arrays = [np.asarray(a) for a in (probe if isinstance(probe, (list, tuple)) else [probe])]
            return probe_rows(arrays, slice(self.probe_size))
        return np.asarray(probe)[: self.probe_size]

    def on_epoch_begin(self, epoch: int, logs: Logs | None = None) -> None:
        if self._first_epoch is None:
            self._first_epoch = epoch
        self._monitored = (epoch - self._first_epoch) % self.every == 0
        self._active = self._monitored and bool(self._params)  # per-batch gradient statistics
        self._sums = np.zeros((2, len(self._keys)))  # grad_norm, update_ratio; parameters, then layers
        self._state_grads.start_epoch(self._monitored)
        self._batches = 0

    def _flat(self, what: str) -> Array:
        """All monitored parameters' values or grads as one flat array (a view when the model is packed)."""
        if self._pack is not None:
            return self._pack.values if what == "value" else self._pack.grads
        return np.concatenate([getattr(p, what).ravel() for p in self._params])

    # -- per batch ------------------------------------------------------------------------------------
    def on_batch_begin(self, batch: int, logs: Logs | None = None) -> None:
        if self.probe is None and not self._capturing:
            attach_record(self.model, self._keep_probe_rows)  # for this step's forward only
            self._capturing = True
        if self._active:
            np.copyto(self._squares[2], self._flat("value"))

    def on_batch_end(self, batch: int, logs: Logs | None = None) -> None:
        self._stop_capturing()
        if not self._active:
            return
        sq = self._squares
        # a diverging run overflows to inf here, which is the truthful record; all-zero w (a bias before
        # its first step) gives ratio 0; NaN stays NaN
        with np.errstate(all="ignore"):
            np.subtract(self._flat("value"), sq[2], out=sq[1])
            np.square(sq[1], out=sq[1])
            np.square(sq[2], out=sq[2])
            np.square(self._flat("grad"), out=sq[0])
            per_param = np.add.reduceat(sq, self._param_starts, axis=1)
            per_layer = np.add.reduceat(per_param, self._layer_starts, axis=1)
            g, step, w = np.sqrt(np.concatenate([per_param, per_layer], axis=1))
            ratio = np.divide(step, w, out=np.zeros_like(w), where=w != 0)
        self._sums[0] += g
        self._sums[1] += ratio
        self._batches += 1
        self._state_grads.collect()

    def on_train_end(self, logs: Logs | None = None) -> None:
        self._stop_capturing()
        self._state_grads.stop()

    def _stop_capturing(self) -> None:
        if self._capturing:
            detach_record(self.model, self._keep_probe_rows)
            self._capturing = False

    def _keep_probe_rows(self, model: Any, x: Any, output: Any) -> None:
        """Keep copies of the model's training inputs (every input's same rows) until ``probe_size`` are held."""
        if self.probe is not None:
            return
        self._probe_is_list = isinstance(x, (list, tuple))
        xs = list(x) if self._probe_is_list else [x]
        held = sum(len(part[0]) for part in self._probe_parts)
        self._probe_parts.append([np.array(a[: self.probe_size - held]) for a in xs])
        if held + len(self._probe_parts[-1][0]) >= self.probe_size:
            self.probe = self._joined_probe()

    def _joined_probe(self) -> Any:
        if not self._probe_parts:
            return None
        arrays = [np.concatenate(column) for column in zip(*self._probe_parts)]
        return arrays if self._probe_is_list else arrays[0]

    # -- per epoch -------------------------------------------------------------------------------------
    def on_epoch_end(self, epoch: int, logs: Logs | None = None) -> None:
        self.diagnostics.loss.append(float((logs or {}).get("loss", math.nan)))
        if not self._monitored:
            return
        means = self._sums / max(self._batches, 1)
        for (layer, name), grad_norm, ratio in zip(self._keys, means[0], means[1], strict=True):
            self.diagnostics.gradients.append(
                {
                    "epoch": epoch,
                    "layer": layer,
                    "parameter": name,
                    "grad_norm": float(grad_norm),
                    "update_ratio": float(ratio),
                }
            )
        self.diagnostics.state_grads += self._state_grads.end_epoch(epoch)
        probe = self.probe if self.probe is not None else self._joined_probe()
        if probe is not None and probe_count(probe):
            self._record_activations(epoch, probe)

    def _record_activations(self, epoch: int, probe: Any) -> None:
        dtype = self.model.dtype
        x = [a.astype(dtype, copy=False) for a in probe] if isinstance(probe, list) else probe.astype(dtype, copy=False)
        seen = run_probe(self.model, x, self._layers)
        self.diagnostics.feeds, self.diagnostics.outputs = seen.feeds, seen.model_outputs
        layer_of = dict(self._layers)
        for path, a in seen.outputs.items():
            name = activation_name(layer_of[path])
            row = {"epoch": epoch, "layer": path, "activation": name or "linear"}
            with np.errstate(all="ignore"):
                self.diagnostics.activations.append({**row, **activation_stats(a, name)})
                if (name in RELU_FAMILY or name in SATURATING) and _has_channels(layer_of[path], a):
                    self._record_channels(row, channel_stats(a, name))

    def _record_channels(self, row: dict[str, Any], stats: dict[str, Array]) -> None:
        dead, saturated = stats["dead_fraction"].tolist(), stats["saturated_fraction"].tolist()
        self.diagnostics.channels.extend(
            {**row, "channel": c, "dead_fraction": d, "saturated_fraction": s}
            for c, (d, s) in enumerate(zip(dead, saturated))
        )


CALLBACKS.register(GradientMonitor)
