"""Helpers behind custom training steps (``Model.train_step(data)``, see docs/generative.md).

``fit`` hands ``train_step`` one batch as ``data``: the pair ``(x, y)`` when targets were given, else
``x`` alone (an array, or a list of arrays for a model with several inputs). ``unpack_data`` undoes
that. ``loss_terms`` collects the terms layers added with ``Layer.add_loss`` during the last training
forward pass of a model, including every call of a layer shared inside a graph.
"""

from __future__ import annotations

from typing import Any

from ..errors import ConfigError
from ..layers import base


def unpack_data(data: Any) -> tuple[Any, Any]:
    """``(x, y)`` from a batch as ``fit`` passes it: a tuple ``(x, y)`` or ``(x,)``, or ``x`` alone (y None)."""
    if isinstance(data, tuple):
        if len(data) == 2:
            return data[0], data[1]
        if len(data) == 1:
            return data[0], None
        raise ConfigError(f"train_step: data must be (x, y), (x,) or x, got a tuple of {len(data)}; hint: with "
                          "fit(sample_weight=...) it is (x, y, sample_weight): use unpack_x_y_sample_weight(data)")
    return data, None


def unpack_x_y_sample_weight(data: Any) -> tuple[Any, Any, Any]:
    """``(x, y, sample_weight)`` from a batch (Keras' name): ``(x, y, w)``, ``(x, y)``, ``(x,)`` or ``x``."""
    if isinstance(data, tuple) and len(data) == 3:
        return data[0], data[1], data[2]
    x, y = unpack_data(data)
    return x, y, None


def loss_terms(model: Any) -> list[tuple[str, float]]:
    """Every ``(name, value)`` added with ``add_loss`` in the model's last training forward pass.

    A layer called several times in a graph (``Functional``) keeps one cache per call, saved in the
    graph's own cache; each call's terms are counted.
    """
    if not base._LOSSES_ADDED:  # no layer has ever added a loss: nothing to walk
        return []
    found: list[tuple[str, float]] = []
    saved = model.cache.get("saved") if isinstance(model.cache, dict) else None
    skip: set[int] = set()
    for entries in (saved or {}).values():
        for sub, cache in entries:
            skip.add(id(sub))
            if not hasattr(sub, "layers"):
                found += cache.get("added_losses", ())
    for layer in getattr(model, "layers", []):
        if id(layer) in skip:
            continue
        if hasattr(layer, "layers"):
            found += loss_terms(layer)
        else:
            found += layer.cache.get("added_losses", ())
    return found


def sum_terms(terms: list[tuple[str, float]]) -> dict[str, float]:
    """Terms added up by name, in the order the names first appear."""
    totals: dict[str, float] = {}
    for name, value in terms:
        totals[name] = totals.get(name, 0.0) + value
    return totals
