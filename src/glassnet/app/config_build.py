"""Objects from config tables: layers, loss, optimizer (and schedule), callbacks.

Names are looked up in the families of the one registry (``glassnet._registry``: layer, loss, optimizer,
schedule, callback) by class name (``"AdamW"``), snake case (``"adam_w"``), lower case (``"adamw"``) or a
registered alias (``"mse"``), so a registered class (``@gn.register_layer``) works in configs without
touching this module.
"""

from __future__ import annotations

import inspect
import json
from pathlib import Path
from typing import Any

import numpy as np

from .. import backend, callbacks, layers, losses, optimizers, schedules
from .._registry import Family
from ..errors import ConfigError, GlassnetError, UnknownNameError
from ..models import Sequential
from .config_data import PreparedData
from .sequence_data import fill_placeholders

# Added by the training command itself, so not configurable as [[callbacks]].
_INTERNAL_CALLBACKS = ("FitDiagnosis",)
# Declared by the command itself from the data (Input) or not a layer list entry (models).
_NOT_CONFIGURABLE_LAYERS = ("Input", "Sequential", "Functional")


def lookup(family: Family[Any], name: Any, where: str, label: str, skip: tuple[str, ...] = (),
           by_class: bool = False) -> type:
    """The registered class for ``name`` (class name, snake case, lower case or alias), or a ConfigError
    quoting it and listing the valid names: class names if ``by_class``, else the registered aliases."""
    try:
        cls = family.lookup_class(name)
    except UnknownNameError:
        cls = None
    if cls is None or cls.__name__ in skip:
        shown = json.dumps(name) if isinstance(name, str) else repr(name)
        choices = [n for n in family.class_names() if n not in skip] if by_class else family.names()
        valid = ", ".join(choices) or f"none (no {label} classes are available in this installation)"
        raise ConfigError(f"{where}: unknown {label} {shown}; valid: {valid}")
    return cls


def construct(cls: type, kwargs: dict[str, Any], where: str) -> Any:
    """``cls(**kwargs)`` with unknown argument names and constructor errors reported at ``where``."""
    params = inspect.signature(cls).parameters
    if not any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()):
        valid = [n for n, p in params.items() if p.kind is not inspect.Parameter.VAR_POSITIONAL]
        for key in kwargs:
            if key not in valid:
                raise ConfigError(f"{where}: unknown argument {key!r} for {cls.__name__}; valid: {', '.join(valid)}")
    try:
        return cls(**kwargs)
    except ConfigError as exc:
        raise ConfigError(f"{where}: {exc}") from None
    except (TypeError, ValueError, GlassnetError) as exc:
        raise ConfigError(f"{where}: {cls.__name__}: {exc}") from None


def _split_name(table: dict[str, Any], key: str, where: str, example: str = "") -> tuple[Any, dict[str, Any]]:
    """``table[key]`` and the other entries; a missing key names an example and a mix-up of type/name."""
    if key not in table:
        message = f"{where}: missing {key!r}" + (f" (e.g. {key} = {json.dumps(example)})" if example else "")
        other = "name" if key == "type" else "type"
        if other in table:
            message += f"; {where} takes {key} = ..., not {other} = ..."
        raise ConfigError(message)
    rest = {k: v for k, v in table.items() if k != key}
    return table[key], rest


def default_layers(data: PreparedData) -> list[dict[str, Any]]:
    """One hidden ReLU layer of 64 units; softmax over the classes, or a linear output for regression."""
    hidden = {"type": "Dense", "units": 64, "activation": "relu", "kernel_initializer": "he_normal"}
    if data.task == "classification":
        return [hidden, {"type": "Dense", "units": data.n_outputs, "activation": "softmax"}]
    return [hidden, {"type": "Dense", "units": data.n_outputs}]


def build_model(model_table: dict[str, Any], data: PreparedData, seed: int, name: str) -> tuple[dict, Sequential]:
    """Sequential(Input(data shape), *layers) with weights drawn from ``seed``; returns the resolved table."""
    table = {"name": name, "layers": default_layers(data), **model_table}
    unknown = set(table) - {"name", "layers"}
    if unknown:
        raise ConfigError(f"model: unknown key {sorted(unknown)[0]!r}; valid keys: layers, name")
    if not table["layers"]:
        raise ConfigError('model.layers is empty; add at least one [[model.layers]] with type = "Dense"')
    table["layers"] = fill_placeholders(table["layers"], data)  # "$classes", "$timesteps"
    built = []
    for i, spec in enumerate(table["layers"]):
        where = f"model.layers[{i}]"
        kind, kwargs = _split_name(spec, "type", where, "Dense")
        cls = lookup(layers.LAYERS, kind, f"{where}.type", "layer type", skip=_NOT_CONFIGURABLE_LAYERS, by_class=True)
        if isinstance(kwargs.get("layer"), dict):  # a wrapper's layer (Bidirectional, TimeDistributed) as a table
            inner_kind, inner_kwargs = _split_name(kwargs["layer"], "type", f"{where}.layer", "LSTM")
            inner = lookup(layers.LAYERS, inner_kind, f"{where}.layer.type", "layer type",
                           skip=_NOT_CONFIGURABLE_LAYERS, by_class=True)
            kwargs["layer"] = construct(inner, inner_kwargs, f"{where}.layer")
        built.append(construct(cls, kwargs, where))
    with backend.using_generator(np.random.default_rng(seed)):
        model = Sequential([layers.Input(shape=data.input_shape), *built], name=str(table["name"]))
    return table, model


def build_loss(loss_table: dict[str, Any], data: PreparedData) -> tuple[dict[str, Any], Any]:
    default = "sparse_categorical_crossentropy" if data.task == "classification" else "mse"
    table = {"name": default, **loss_table}
    name, kwargs = _split_name(table, "name", "loss")
    return table, construct(lookup(losses.LOSSES, name, "loss.name", "loss"), kwargs, "loss")


def build_optimizer(opt_table: dict[str, Any], default: dict[str, Any]) -> tuple[dict[str, Any], Any]:
    """The optimizer named in [optimizer], its learning rate a schedule if [optimizer.schedule] is given."""
    table = dict(opt_table) if "name" in opt_table else {**default, **opt_table}
    name, kwargs = _split_name(table, "name", "optimizer")
    cls = lookup(optimizers.OPTIMIZERS, name, "optimizer.name", "optimizer")
    schedule = kwargs.pop("schedule", None)
    if schedule is not None:
        if not isinstance(schedule, dict):
            raise ConfigError(f"optimizer.schedule must be a table with a name, got {schedule!r}")
        sched_name, sched_kwargs = _split_name(schedule, "name", "optimizer.schedule")
        sched_cls = lookup(schedules.SCHEDULES, sched_name, "optimizer.schedule.name", "schedule")
        kwargs["learning_rate"] = construct(sched_cls, sched_kwargs, "optimizer.schedule")
    return table, construct(cls, kwargs, "optimizer")


def build_callbacks(specs: list[dict[str, Any]], run_dir: Path | None) -> list[Any]:
    """[[callbacks]] objects; a relative ``path``, ``filepath`` or ``filename`` is placed in the run folder."""
    built = []
    for i, spec in enumerate(specs):
        where = f"callbacks[{i}]"
        kind, kwargs = _split_name(spec, "type", where, "EarlyStopping")
        cls = lookup(callbacks.CALLBACKS, kind, f"{where}.type", "callback", skip=_INTERNAL_CALLBACKS, by_class=True)
        for key in ("path", "filepath", "filename"):
            if isinstance(kwargs.get(key), str) and run_dir is not None and not Path(kwargs[key]).is_absolute():
                kwargs[key] = str(run_dir / kwargs[key])
        built.append(construct(cls, kwargs, where))
    return built


__all__ = [
    "build_callbacks",
    "build_loss",
    "build_model",
    "build_optimizer",
    "construct",
    "default_layers",
    "lookup",
]
