"""What the monitor learns about any model, found without knowing its type: layers, outputs, data flow.

    model_layers(model)      every computing layer under a unique path name ("inner/dense" for layer
                             "dense" of a nested model "inner"), nested models expanded, in the
                             model's own (topological) order
    trainable_groups(model)  those layers with their trainable parameters (frozen ones left out)
    run_probe(model, x)      the model's own ``forward`` on x, in inference mode, with every layer's
                             output recorded through ``layers.recording``: per layer its outputs, the
                             layers its output feeds, and the layers whose output is a model output

The data flow is read from the arrays themselves: layer A feeds layer B when B receives the very array
A returned (``is``, not equality). That holds in a Sequential stack, a Functional graph and a model
nested in either, because models hand each layer's output on unchanged. A layer that returns its input
(Dropout at inference) takes over as the producer of that array; the edges it gains (B fed by the
pass-through instead of by A) keep which trainable layers lie upstream of which, which is all the
diagnosis asks of them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .._typing import Array
from ..layers.base import Layer
from ..layers.recording import recording_forward
from ..parameter import Parameter

PROBE_CHUNK = 32  # rows per probe forward pass (see GradientMonitor._record_activations)


def _children(layer: Any) -> list[Layer] | None:
    """The sub-layers of a layer that is only a container of them (a model), else None."""
    children = getattr(layer, "layers", None)
    if not isinstance(children, list) or not children or not all(isinstance(c, Layer) for c in children):
        return None
    inside = {id(p) for child in children for p in child.parameters()}
    if any(id(p) not in inside for p in layer.parameters()):
        return None  # the container has parameters of its own: one unit, not expanded
    return children


def model_layers(model: Layer) -> list[tuple[str, Layer]]:
    """``(path, layer)`` for every layer that computes, nested models expanded, in the model's order."""
    found: list[tuple[str, Layer]] = []
    seen: set[int] = set()
    taken: set[str] = set()

    def walk(container: Layer, prefix: str) -> None:
        for layer in _children(container) or []:
            if id(layer) in seen:  # a layer used twice is one unit
                continue
            seen.add(id(layer))
            path, k = prefix + layer.name, 0
            while path in taken:  # names are unique within a model; this guards hand-assembled ones
                k += 1
                path = f"{prefix}{layer.name}_{k}"
            taken.add(path)
            if _children(layer) is not None:
                walk(layer, path + "/")
            else:
                found.append((path, layer))

    if _children(model) is None:
        return [(model.name, model)]
    walk(model, "")
    return found


def trainable_groups(model: Layer, layers: list[tuple[str, Layer]] | None = None) -> list[tuple[str, list[Parameter]]]:
    """``(path, parameters)`` per layer with trainable parameters (those the optimizer updates)."""
    trainable = {id(p) for p in model.parameters(trainable_only=True)}
    groups = []
    for path, layer in model_layers(model) if layers is None else layers:
        params = [p for p in layer.parameters() if id(p) in trainable]
        if params:
            groups.append((path, params))
    return groups


@dataclass
class ProbeOutputs:
    """One probe pass: ``outputs`` per layer path in call order (arrays over the probe, a layer called
    twice contributing both calls' rows), ``feeds`` per path the paths that take its output, and
    ``model_outputs`` the paths whose output is an output of the model."""

    outputs: dict[str, Array] = field(default_factory=dict)
    feeds: dict[str, list[str]] = field(default_factory=dict)
    model_outputs: list[str] = field(default_factory=list)


def _items(value: Any) -> list[Any]:
    return list(value) if isinstance(value, (list, tuple)) else [value]


def probe_rows(probe: Any, rows: slice) -> Any:
    """``probe[rows]`` for one array, or for each array of a list (one per model input)."""
    return [a[rows] for a in probe] if isinstance(probe, list) else probe[rows]


def probe_count(probe: Any) -> int:
    return len(probe[0]) if isinstance(probe, list) else len(probe)


def run_probe(model: Layer, probe: Any, layers: list[tuple[str, Layer]] | None = None) -> ProbeOutputs:
    """Run ``model.forward(probe, training=False)`` in chunks, recording every layer's output."""
    layers = model_layers(model) if layers is None else layers
    path_of = {id(layer): path for path, layer in layers}
    parts: dict[str, list[Array]] = {}
    feeds: dict[str, dict[str, None]] = {}  # dicts as ordered sets
    ends: dict[str, None] = {}
    calls: list[tuple[str, Any]] = []  # this chunk's outputs, kept alive so that no id is reused
    producer: dict[int, str] = {}

    def record(layer: Layer, x: Any, y: Any) -> None:
        path = path_of[id(layer)]
        feeds.setdefault(path, {})
        for array in _items(x):
            source = producer.get(id(array))
            if source is not None and source != path:
                feeds[source][path] = None
        for array in _items(y):
            producer[id(array)] = path
        calls.append((path, y))
        if isinstance(y, np.ndarray):
            parts.setdefault(path, []).append(np.array(y))  # a copy: inside fit a buffer may be reused

    with np.errstate(all="ignore"), recording_forward([layer for _, layer in layers], record):
        for start in range(0, probe_count(probe), PROBE_CHUNK):
            # in training-sized chunks: one 256-row product wakes BLAS threads that, on a loaded
            # machine, cost milliseconds per epoch to schedule (measured: 5 ms vs 0.05 ms)
            results = _items(model.forward(probe_rows(probe, slice(start, start + PROBE_CHUNK)), training=False))
            ends.update({path: None for path, y in calls if any(y is r for r in results)})
            calls.clear()
            producer.clear()
    return ProbeOutputs(
        outputs={path: np.concatenate(chunks) for path, chunks in parts.items()},
        feeds={path: list(targets) for path, targets in feeds.items()},
        model_outputs=list(ends),
    )
