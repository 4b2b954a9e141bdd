"""Objects from config tables: layers, loss, optimizer (and schedule), callbacks.

Names are looked up generically among the public classes of each family's module (``glassnet.layers``,
``glassnet.losses``, ``glassnet.optimizers``, ``glassnet.schedules``, ``glassnet.callbacks``), by class
name (``"AdamW"``), snake case (``"adam_w"``), lower case (``"adamw"``) or a registered alias (``"mse"``),
so a class added to a family works in configs without touching this module.
"""

from __future__ import annotations

import inspect
import json
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np

from . import backend, callbacks, layers, losses, optimizers, schedules
from ._registry import snake_case
from .config_data import PreparedData
from .errors import ConfigError, GlassnetError
from .models import Sequential

# Added by the training command itself, so not configurable as [[callbacks]].
_INTERNAL_CALLBACKS = ("History", "ProgbarLogger", "CallbackList")


class ClassTable(dict[str, type]):
    """Lower-case name -> class; ``choices`` are the names shown in errors (aliases, else snake case)."""

    choices: list[str]


def class_table(module: ModuleType, base: type, skip: tuple[str, ...] = (), by_class: bool = False) -> ClassTable:
    """Every public subclass of ``base`` in ``module`` under its lower-case, snake-case and alias names.

    Errors list the registered aliases and snake-case names, or the class names if ``by_class``.
    """
    found = ClassTable()
    shown: set[str] = set()
    get, names = getattr(module, "get", None), getattr(module, "names", None)
    if callable(get) and callable(names):
        for alias in names():
            try:
                found.setdefault(alias.lower(), type(get(alias)))
                shown.add(alias)
            except (TypeError, ValueError):  # a class that cannot be built without arguments
                continue
    for attr in getattr(module, "__all__", dir(module)):
        cls = getattr(module, attr, None)
        if isinstance(cls, type) and issubclass(cls, base) and cls is not base and attr not in skip:
            if by_class or cls not in found.values():
                shown.add(cls.__name__ if by_class else snake_case(cls.__name__))
            for alias in (cls.__name__.lower(), snake_case(cls.__name__)):
                found.setdefault(alias, cls)
    found.choices = sorted(shown)
    return found


def lookup(table: ClassTable, name: Any, where: str, family: str) -> type:
    """The class for ``name`` or a ConfigError quoting it and listing the valid names."""
    if not isinstance(name, str) or name.lower() not in table:
        shown = json.dumps(name) if isinstance(name, str) else repr(name)
        valid = ", ".join(table.choices) or f"none (no {family} classes are available in this installation)"
        raise ConfigError(f"{where}: unknown {family} {shown}; valid: {valid}")
    return table[name.lower()]


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
    known = class_table(layers, layers.Layer, skip=("Input",), by_class=True)
    built = []
    for i, spec in enumerate(table["layers"]):
        where = f"model.layers[{i}]"
        kind, kwargs = _split_name(spec, "type", where, "Dense")
        built.append(construct(lookup(known, kind, f"{where}.type", "layer type"), kwargs, where))
    with backend.using_generator(np.random.default_rng(seed)):
        model = Sequential([layers.Input(shape=data.input_shape), *built], name=str(table["name"]))
    return table, model


def build_loss(loss_table: dict[str, Any], data: PreparedData) -> tuple[dict[str, Any], Any]:
    default = "sparse_categorical_crossentropy" if data.task == "classification" else "mse"
    table = {"name": default, **loss_table}
    name, kwargs = _split_name(table, "name", "loss")
    return table, construct(lookup(class_table(losses, losses.Loss), name, "loss.name", "loss"), kwargs, "loss")


def build_optimizer(opt_table: dict[str, Any], default: dict[str, Any]) -> tuple[dict[str, Any], Any]:
    """The optimizer named in [optimizer], its learning rate a schedule if [optimizer.schedule] is given."""
    table = dict(opt_table) if "name" in opt_table else {**default, **opt_table}
    name, kwargs = _split_name(table, "name", "optimizer")
    cls = lookup(class_table(optimizers, optimizers.Optimizer), name, "optimizer.name", "optimizer")
    schedule = kwargs.pop("schedule", None)
    if schedule is not None:
        if not isinstance(schedule, dict):
            raise ConfigError(f"optimizer.schedule must be a table with a name, got {schedule!r}")
        sched_name, sched_kwargs = _split_name(schedule, "name", "optimizer.schedule")
        sched_cls = lookup(
            class_table(schedules, schedules.LearningRateSchedule),
            sched_name,
            "optimizer.schedule.name",
            "schedule",
        )
        kwargs["learning_rate"] = construct(sched_cls, sched_kwargs, "optimizer.schedule")
    return table, construct(cls, kwargs, "optimizer")


def build_callbacks(specs: list[dict[str, Any]], run_dir: Path | None) -> list[Any]:
    """[[callbacks]] objects; a relative ``path``, ``filepath`` or ``filename`` is placed in the run folder."""
    known = class_table(callbacks, callbacks.Callback, skip=_INTERNAL_CALLBACKS, by_class=True)
    built = []
    for i, spec in enumerate(specs):
        where = f"callbacks[{i}]"
        kind, kwargs = _split_name(spec, "type", where, "EarlyStopping")
        cls = lookup(known, kind, f"{where}.type", "callback")
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
    "class_table",
    "construct",
    "default_layers",
    "lookup",
]
