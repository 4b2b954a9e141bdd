"""Model files: one zip holding ``config.json`` (architecture, compile settings) and ``weights.npz``.

Loading never unpickles (``allow_pickle=False``) and builds only registered glassnet classes, so a
model file cannot run code. Saving writes a temporary file beside the target, flushes it to disk and
renames it over the target, so a crash never leaves a half-written model.
"""

from __future__ import annotations

import io
import json
import os
import zipfile
from typing import Any

import numpy as np

from .. import backend, losses, optimizers
from .._files import atomic_write
from .._registry import serialize
from .._typing import Array
from .._version import __version__
from ..errors import ConfigError

FORMAT = "glassnet-model"
FORMAT_VERSION = 1


def _npz_bytes(arrays: dict[str, Array]) -> bytes:
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)  # type: ignore[arg-type]
    return buffer.getvalue()


def save_model(model: Any, path: str | os.PathLike[str], include_optimizer: bool = False) -> None:
    """Save architecture, weights, compile settings and (optionally) the optimizer state."""

    params = model.parameters()
    config: dict[str, Any] = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "glassnet_version": __version__,
        "dtype": model.dtype,
        "model": {"class_name": type(model).__name__, "config": model.get_config()},
        "weights": [p.name for p in params],
        "compile": None,
        "optimizer_state": None,
    }
    if model.loss is not None and model.optimizer is not None:
        config["compile"] = {"optimizer": serialize(model.optimizer), **model.compile_settings()}
    members = {"weights.npz": _npz_bytes({f"w{i:04d}": p.value for i, p in enumerate(params)})}
    if include_optimizer and model.optimizer is not None:
        state = model.optimizer.get_state()
        config["optimizer_state"] = list(state)
        members["optimizer.npz"] = _npz_bytes({f"s{i:04d}": v for i, v in enumerate(state.values())})
    members["config.json"] = json.dumps(config, indent=2).encode()

    def write(handle: Any) -> None:
        with zipfile.ZipFile(handle, "w", compression=zipfile.ZIP_DEFLATED) as archive:
            for name, data in members.items():
                archive.writestr(name, data)

    atomic_write(path, write)


def _read_npz(data: bytes) -> list[Array]:
    with np.load(io.BytesIO(data), allow_pickle=False) as npz:
        return [npz[k] for k in sorted(npz.files)]


def load_model(path: str | os.PathLike[str], compile: bool = True) -> Any:
    """Rebuild a model saved with ``model.save``: same architecture, weights and compile settings."""
    from ..layers import deserialize_layer

    try:
        with zipfile.ZipFile(path) as archive:
            names = set(archive.namelist())
            if not {"config.json", "weights.npz"} <= names:
                raise ConfigError(f"{path}: not a glassnet model file (config.json or weights.npz missing)")
            config = json.loads(archive.read("config.json"))
            weights = _read_npz(archive.read("weights.npz"))
            opt_state = _read_npz(archive.read("optimizer.npz")) if "optimizer.npz" in names else None
    except zipfile.BadZipFile:
        raise ConfigError(f"{path}: not a glassnet model file (not a zip archive)") from None
    if config.get("format") != FORMAT or config.get("format_version", 0) > FORMAT_VERSION:
        raise ConfigError(f"{path}: unsupported model format {config.get('format')!r} "
                          f"version {config.get('format_version')!r}")
    saved_floatx = backend.floatx()
    backend.set_floatx(config.get("dtype", "float32"))
    try:
        model: Any = deserialize_layer(config["model"])
    finally:
        backend.set_floatx(saved_floatx)
    params = model.parameters()
    if [p.name for p in params] != config["weights"] or len(weights) != len(params):
        raise ConfigError(f"{path}: weights do not match the architecture "
                          f"(expected {config['weights']}, model has {[p.name for p in params]})")
    for param, value in zip(params, weights):
        param.value = value
    if compile and config.get("compile"):
        c = config["compile"]
        loss = [losses.get(item) for item in c["loss"]] if isinstance(c["loss"], list) else losses.get(c["loss"])
        model.compile(optimizer=optimizers.get(c["optimizer"]), loss=loss, metrics=c["metrics"],
                      loss_weights=c.get("loss_weights"))
        if opt_state is not None and config.get("optimizer_state"):
            model.optimizer.set_state(dict(zip(config["optimizer_state"], opt_state)), model.parameters())
    return model
