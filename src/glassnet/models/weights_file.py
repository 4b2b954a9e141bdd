"""Weights only: ``save_weights`` / ``load_weights`` (Keras' names) and ``get_layer``.

A weights file has the model file's layout (``config.json`` + ``weights.npz``) with format
``glassnet-weights`` and no architecture, so ``load_model`` refuses it with a clear message and
``load_weights`` reads it with the same bounded, validated reader. ``load_weights`` also takes a full
model file. Names, shapes and dtypes must match the model exactly; nothing is assigned until every
array has been checked, so a failed load leaves the model as it was.
"""

from __future__ import annotations

import json
import os
from typing import Any

import numpy as np

from .._files import atomic_write
from .._version import __version__
from .._zipfiles import npz_bytes, write_zip
from ..errors import ConfigError, StateError, UnknownNameError
from ._model_file import DEFAULT_MAX_BYTES, fail, parse_config, read_members, read_npz

WEIGHTS_FORMAT = "glassnet-weights"


def save_weights(model: Any, path: str | os.PathLike[str]) -> None:
    """Write every parameter of ``model`` (moving statistics included), atomically."""
    params = model.parameters()
    config = {"format": WEIGHTS_FORMAT, "format_version": 1, "glassnet_version": __version__,
              "dtype": model.dtype, "weights": [p.name for p in params]}
    weights = npz_bytes({f"w{i:04d}": p.value for i, p in enumerate(params)})

    def write(handle: Any) -> None:
        write_zip(handle, {"weights.npz": weights, "config.json": json.dumps(config, indent=2).encode()}, compress=True)

    atomic_write(path, write)


def load_weights(model: Any, path: str | os.PathLike[str], *, allow_nonfinite: bool = False,
                 max_bytes: int = DEFAULT_MAX_BYTES) -> None:
    """Set ``model``'s parameters from a weights file (or a model file) written for the same architecture."""
    from .saving import FORMAT, _checked

    if not model.built:
        raise StateError(f"model {model.name!r} is not built; hint: build it (or call it on data) before "
                         "load_weights, so its weights exist")
    where = os.fspath(path)
    members = read_members(path, max_bytes)
    config = parse_config(members["config.json"], where)
    if config.get("format") not in (WEIGHTS_FORMAT, FORMAT) or config.get("format_version") != 1:
        raise fail(f"{where}: config.json", f"not a glassnet weights or model file (format "
                                            f"{str(config.get('format'))[:40]!r})")
    names = config.get("weights")
    if not (isinstance(names, list) and all(isinstance(n, str) for n in names)):
        raise fail(f"{where}: config.json", "'weights' must be a list of weight names")
    entries = read_npz(members["weights.npz"], "weights.npz", where, "w", max_bytes)
    params = model.parameters()
    # matched by position, as Keras does (names may differ: layer names count up per process); every
    # array's shape and dtype is checked against its parameter below
    if len(names) != len(params) or len(entries) != len(params):
        raise ConfigError(f"{where}: the weights do not fit model {model.name!r}: {len(names)} arrays in the file, "
                          f"{len(params)} in the model (first in the file: {names[:3]}, in the model: "
                          f"{[p.name for p in params[:3]]}); hint: load_weights needs the same architecture")
    values = [_checked(e, p.value.shape, p.value.dtype, p.name, allow_nonfinite) for p, e in zip(params, entries)]
    for param, value in zip(params, values):
        param.value = value


def get_layer(model: Any, name: str | None = None, index: int | None = None) -> Any:
    """The layer of ``model`` called ``name``, or at position ``index`` of ``model.layers`` (Keras)."""
    if (name is None) == (index is None):
        raise ConfigError("get_layer takes either name= or index=, not both and not neither")
    layers = model.layers
    if index is not None:
        if isinstance(index, bool) or not isinstance(index, (int, np.integer)) or not -len(layers) <= index < len(
                layers):
            raise ConfigError(f"get_layer: index must be an integer in [{-len(layers)}, {len(layers)}), got "
                              f"{index!r}; model {model.name!r} has {len(layers)} layers")
        return layers[int(index)]
    for layer in layers:
        if layer.name == name:
            return layer
    raise UnknownNameError(f"model {model.name!r} has no layer {name!r}; layers: "
                           f"{', '.join(layer.name for layer in layers)}")
