"""Model files: one zip holding ``config.json`` (architecture, compile settings) and ``weights.npz``.

Loading never unpickles (``allow_pickle=False``) and builds only registered glassnet classes, so a
model file cannot run code. Saving writes a temporary file beside the target, flushes it to disk and
renames it over the target, so a crash never leaves a half-written model.
"""

from __future__ import annotations

import json
import os
from typing import Any

import numpy as np

from .. import backend, losses, optimizers
from .._budget import allocation_budget
from .._files import atomic_write
from .._registry import serialize
from .._typing import Array
from .._version import __version__
from .._zipfiles import npz_bytes, write_zip
from ..errors import ModelFileError
from ._model_file import DEFAULT_MAX_BYTES, NpyEntry, fail, parse_config, read_members, read_npz

FORMAT = "glassnet-model"
FORMAT_VERSION = 1


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
    members = {"weights.npz": npz_bytes({f"w{i:04d}": p.value for i, p in enumerate(params)})}
    named = _named_optimizers(model)
    if named:  # several optimizers (a GAN's d_optimizer and g_optimizer): state names "<option>/<name>"
        config["compile"] = {"optimizer": None, "loss": None, "metrics": [],
                             "optimizers": {key: serialize(opt) for key, opt in named.items()}}
        state = {f"{key}/{name}": v for key, opt in named.items() for name, v in opt.get_state().items()}
    else:
        if model.loss is not None and model.optimizer is not None:
            config["compile"] = {"optimizer": serialize(model.optimizer), **model.compile_settings()}
        state = model.optimizer.get_state() if model.optimizer is not None else {}
    if include_optimizer and state:
        config["optimizer_state"] = list(state)
        members["optimizer.npz"] = npz_bytes({f"s{i:04d}": v for i, v in enumerate(state.values())})
    members["config.json"] = json.dumps(config, indent=2).encode()

    def write(handle: Any) -> None:
        write_zip(handle, members, compress=True)  # the same model gives the same bytes (fixed member times)

    atomic_write(path, write)


def load_model(
    path: str | os.PathLike[str],
    compile: bool = True,
    *,
    allow_nonfinite: bool = False,
    max_bytes: int = DEFAULT_MAX_BYTES,
    custom_objects: dict[str, type] | None = None,
) -> Any:
    """Rebuild a model saved with ``model.save``: same architecture, weights and compile settings.

    The file may come from anyone: whatever its bytes, the only error raised is ``ModelFileError``
    (a ``ConfigError``), and nothing larger than the file's own content (at most ``max_bytes``
    uncompressed) is allocated; see ``glassnet.models._model_file`` and docs/reliability.md.
    Weights holding NaN or Inf are refused unless ``allow_nonfinite=True``. ``custom_objects``
    (``{"MyLayer": MyLayer}``) makes unregistered classes known for this load only.
    """
    from .custom_objects import custom_objects_scope

    with custom_objects_scope(custom_objects):
        return _load(path, compile, allow_nonfinite, max_bytes)


def _load(path: str | os.PathLike[str], compile: bool, allow_nonfinite: bool, max_bytes: int) -> Any:
    where = os.fspath(path)
    members = read_members(path, max_bytes)
    config = parse_config(members["config.json"], where)
    _check_header(config, where)
    entries = read_npz(members["weights.npz"], "weights.npz", where, "w", max_bytes)
    names = config["weights"]
    if len(entries) != len(names):
        raise fail(f"{where}: weights.npz", f"holds {len(entries)} arrays but config.json lists {len(names)} weights")
    model = _rebuild(config, entries, where, max_bytes)
    params = model.parameters()
    if len(params) != len(names):
        raise fail(where, f"the architecture has {len(params)} weight arrays but the file holds {len(names)}")
    for param, name, entry in zip(params, names, entries):
        if param.name != name:
            raise fail(where, f"{entry.member} is {name!r} in config.json but the architecture's weight there is "
                              f"{param.name!r}; hint: the layer list and the weights list do not match")
        param.value = _checked(entry, param.value.shape, param.value.dtype, name, allow_nonfinite)
    has_state = "optimizer.npz" in members
    if has_state != bool(config["optimizer_state"]):
        raise fail(where, "optimizer.npz and config.json's optimizer_state must come together")
    if compile and config["compile"]:
        _compile(model, config["compile"], where)
        if has_state:
            state_entries = read_npz(members["optimizer.npz"], "optimizer.npz", where, "s", max_bytes)
            _restore_optimizers(model, config["optimizer_state"], state_entries, where, allow_nonfinite)
    return model


def _named_optimizers(model: Any) -> dict[str, Any]:
    """``model.named_optimizers()`` for a model trained by several optimizers (``GAN``: ``{"d_optimizer":
    ..., "g_optimizer": ...}``, once compiled), else ``{}``: the one ``model.optimizer`` is used."""
    getter = getattr(model, "named_optimizers", None)
    return dict(getter()) if callable(getter) else {}


def _restore_optimizers(model: Any, names: list[str], entries: list[NpyEntry], where: str,
                        allow_nonfinite: bool) -> None:
    """Set each optimizer's state from the file: ``model.optimizer``'s, or per named optimizer the
    entries ``"<option>/<name>"``."""
    if len(entries) != len(names):
        raise fail(f"{where}: optimizer.npz", f"holds {len(entries)} arrays but config.json lists {len(names)} "
                                              "optimizer state entries")
    named = _named_optimizers(model)
    if not named:
        model.optimizer.set_state(_optimizer_state(model, names, entries, where, allow_nonfinite), model.parameters())
        return
    groups: dict[str, tuple[list[str], list[NpyEntry]]] = {key: ([], []) for key in named}
    for name, entry in zip(names, entries):
        key, _, rest = name.partition("/")
        if key not in groups:
            raise fail(entry.member, f"state {name[:80]!r} is not '<optimizer>/<name>' for one of {sorted(named)}")
        groups[key][0].append(rest)
        groups[key][1].append(entry)
    for key, (group_names, group_entries) in groups.items():
        state = _optimizer_state(model, group_names, group_entries, f"{where} ({key})", allow_nonfinite)
        named[key].set_state(state, model.parameters())


def _is_names(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(v, str) for v in value) and len(set(value)) == len(value)


def _check_header(config: dict[str, Any], where: str) -> None:
    """Format, version and the shape of every top-level entry of config.json."""
    place = f"{where}: config.json"
    version = config.get("format_version")
    if config.get("format") != FORMAT or isinstance(version, bool) or not isinstance(version, int):
        raise fail(place, f"not a glassnet model (format {str(config.get('format'))[:40]!r}, version "
                          f"{str(version)[:20]!r})")
    if version != FORMAT_VERSION:
        raise fail(place, f"unsupported format version {version}; this glassnet ({__version__}) reads version "
                          f"{FORMAT_VERSION}; hint: upgrade glassnet to read newer files")
    if config.get("dtype", "float32") not in ("float16", "float32", "float64"):
        raise fail(place, f"dtype must be float16, float32 or float64, got {str(config.get('dtype'))[:40]!r}")
    model = config.get("model")
    if not (isinstance(model, dict) and isinstance(model.get("class_name"), str)
            and isinstance(model.get("config"), dict)):
        raise fail(place, "'model' must be {\"class_name\": ..., \"config\": {...}}")
    if not _is_names(config.get("weights")):
        raise fail(place, "'weights' must be a list of distinct weight names")
    compiled = config.setdefault("compile", None)
    metrics = compiled.get("metrics", []) if isinstance(compiled, dict) else None
    per_output = isinstance(metrics, list) and all(isinstance(m, list) for m in metrics) and bool(metrics)
    if compiled is not None and not (isinstance(compiled, dict) and {"optimizer", "loss"} <= set(compiled)
                                     and (all(_is_names(m) for m in metrics) if per_output else _is_names(metrics))):
        raise fail(place, "'compile' must be null or {\"optimizer\", \"loss\", \"metrics\": [names]}")
    state = config.setdefault("optimizer_state", None)
    if state is not None and not _is_names(state):
        raise fail(place, "'optimizer_state' must be null or a list of distinct state names")


def _rebuild(config: dict[str, Any], entries: list[NpyEntry], where: str, max_bytes: int) -> Any:
    """The architecture, built under a budget: no layer may allocate more numbers than the file holds."""
    from ..layers import deserialize_layer
    from .model import Model

    dtype = config.get("dtype", "float32")
    budget = sum(entry.size for entry in entries)
    saved_floatx = backend.floatx()
    backend.set_floatx(dtype)
    try:
        with allocation_budget(budget, max_bytes // np.dtype(dtype).itemsize, f"{where}: config.json"):
            model: Any = deserialize_layer(config["model"])
    except ModelFileError:
        raise
    except Exception as exc:  # registered classes only; bad arguments surface as many exception types
        raise fail(f"{where}: config.json", f"cannot rebuild the model ({type(exc).__name__}: {exc})") from None
    finally:
        backend.set_floatx(saved_floatx)
    if not isinstance(model, Model):
        raise fail(f"{where}: config.json", f"'model' is a {type(model).__name__}, not a model")
    return model


def _checked(entry: NpyEntry, shape: tuple[int, ...], dtype: Any, name: str, allow_nonfinite: bool) -> Array:
    """The entry's array once its shape, dtype and values are what ``name`` needs."""
    if entry.shape != tuple(shape):
        raise fail(entry.member, f"{name!r} has shape {entry.shape}, the architecture needs {tuple(shape)}")
    if entry.dtype != np.dtype(dtype):
        raise fail(entry.member, f"{name!r} has dtype {entry.dtype.str}, expected {np.dtype(dtype).name}")
    value = entry.read()
    if not allow_nonfinite and not np.isfinite(value).all():
        raise fail(entry.member, f"{name!r} holds {int(np.size(value) - np.isfinite(value).sum())} NaN or Inf "
                                 "value(s); hint: load_model(..., allow_nonfinite=True) to inspect it anyway")
    if name.endswith(("moving_variance", ":second_moment", ":mean_square", ":accumulator")) and (value < 0).any():
        raise fail(entry.member, f"{name!r} holds negative values, impossible for a variance or a sum of squares")
    return value


def _compile(model: Any, compiled: dict[str, Any], where: str) -> None:
    try:
        if "optimizers" in compiled:  # a model with one optimizer per part: compile(d_optimizer=..., ...)
            specs = compiled["optimizers"]
            if not isinstance(specs, dict):
                raise TypeError(f"'optimizers' must be a table of optimizers, got {type(specs).__name__}")
            model.compile(**{str(key): optimizers.get(spec) for key, spec in specs.items()})
            return
        loss = compiled["loss"]
        loss = [losses.get(item) for item in loss] if isinstance(loss, list) else losses.get(loss)
        model.compile(optimizer=optimizers.get(compiled["optimizer"]), loss=loss,
                      metrics=compiled.get("metrics", []), loss_weights=compiled.get("loss_weights"))
    except Exception as exc:  # registered classes only; bad arguments surface as many exception types
        raise fail(f"{where}: config.json", f"bad compile settings ({type(exc).__name__}: {exc})") from None


def _optimizer_state(model: Any, names: list[str], entries: list[NpyEntry], where: str,
                     allow_nonfinite: bool) -> dict[str, Array]:
    """``"<param>:<slot>"`` arrays shaped like their parameter, plus a non-negative integer ``iterations``."""
    if len(entries) != len(names):
        raise fail(f"{where}: optimizer.npz", f"holds {len(entries)} arrays but config.json lists {len(names)} "
                                              "optimizer state entries")
    params = {p.name: p for p in model.parameters()}
    state: dict[str, Array] = {}
    for name, entry in zip(names, entries):
        if name == "iterations":
            if entry.shape != () or entry.dtype.kind not in "iu":
                raise fail(entry.member, f"'iterations' must be one integer, got shape {entry.shape} {entry.dtype}")
            count = int(entry.read()[()])
            if not 0 <= count < 2**53:
                raise fail(entry.member, f"'iterations' must be >= 0, got {count}")
            state[name] = np.array(count, dtype=np.int64)
            continue
        pname, _, slot = name.rpartition(":")
        if pname not in params or not slot or slot.startswith("_"):
            raise fail(entry.member, f"state {name[:80]!r} is not '<weight>:<slot>' for a weight of the model")
        param = params[pname]
        state[name] = _checked(entry, param.value.shape, param.value.dtype, name, allow_nonfinite)
    if "iterations" not in state:
        raise fail(f"{where}: optimizer.npz", "the optimizer state has no 'iterations' entry")
    return state
