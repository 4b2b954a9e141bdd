"""Run configurations: TOML in, a validated and fully resolved dict out, TOML back out.

A config has the tables ``[data]``, ``[preprocessing]``, ``[model]`` (with ``[[model.layers]]``),
``[loss]``, ``[optimizer]`` (optionally ``[optimizer.schedule]``), ``[training]`` and ``[[callbacks]]``.
Every table is optional: what is missing comes from the default run (the MLP on the bundled digits).
``resolve`` fills the defaults that depend on the data (input size, classes, task), so the
``config.toml`` saved in a run folder re-creates the run exactly.
"""

from __future__ import annotations

import json
import math
import os
import sys
from importlib import resources
from pathlib import Path
from typing import Any

from ..errors import ConfigError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

TABLES = ("data", "preprocessing", "model", "loss", "optimizer", "training", "callbacks", "tune")
TRAINING_KEYS = {
    "epochs": 30,
    "batch_size": 32,
    "validation_split": 0.1,
    "seed": 0,
    "shuffle": True,
    "metrics": None,
    "diagnose": True,
}
DATA_NAMES = (
    "digits", "xor", "moons", "circles", "spirals", "blobs", "regression", "csv", "idx", "npz", "text", "sort", "ring"
)
DEFAULT_OPTIMIZER = {"name": "sgd", "learning_rate": 0.05, "momentum": 0.9}


def _examples_folder() -> Path:
    return Path(str(resources.files("glassnet.app").joinpath("examples"))).resolve()


def load(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read a TOML config; relative data paths are made relative to the config file's folder, except
    for a shipped example run by name (``glassnet train mnist``), whose data paths are relative to the
    current folder: the data never lies inside the installed package."""
    try:
        with open(path, "rb") as handle:
            config = tomllib.load(handle)
    except OSError as exc:
        raise ConfigError(f"cannot read config {path}: {exc.strerror or exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    check_tables(config, str(path))
    base = Path(path).resolve().parent
    if base == _examples_folder():
        base = Path.cwd()
    data = config.get("data", {})
    for key in ("path", "train_images", "train_labels", "test_images", "test_labels"):
        if isinstance(data.get(key), str) and not Path(data[key]).is_absolute():
            data[key] = str(base / data[key])
    return config


def examples() -> list[str]:
    """Names of the example configs shipped in ``glassnet/app/examples``."""
    folder = resources.files("glassnet.app").joinpath("examples")
    return sorted(p.name[: -len(".toml")] for p in folder.iterdir() if p.name.endswith(".toml"))


def find(name_or_path: str) -> Path:
    """A config file path: an existing file, or the name of a shipped example (``"moons"``)."""
    path = Path(name_or_path)
    if path.is_file():
        return path
    example = resources.files("glassnet.app").joinpath("examples").joinpath(f"{path.stem}.toml")
    if path.parent == Path(".") and example.is_file():
        return Path(str(example))
    raise ConfigError(
        f"config {name_or_path!r}: no such file and not a shipped example; examples: {', '.join(examples())}"
    )


def check_tables(config: dict[str, Any], where: str = "config") -> None:
    """Refuse unknown top-level keys and tables of the wrong kind."""
    for key, value in config.items():
        if key not in TABLES:
            raise ConfigError(f"{where}: unknown table [{key}]; valid tables: {', '.join(TABLES)}")
        if key == "callbacks":
            if not (isinstance(value, list) and all(isinstance(v, dict) for v in value)):
                raise ConfigError(f"{where}: callbacks must be an array of tables ([[callbacks]] with a type)")
        elif not isinstance(value, dict):
            raise ConfigError(f"{where}: {key} must be a table ([{key}]), got {type(value).__name__} {value!r}")
    layers = config.get("model", {}).get("layers")
    if layers is not None and not (isinstance(layers, list) and all(isinstance(v, dict) for v in layers)):
        raise ConfigError(f"{where}: model.layers must be an array of tables ([[model.layers]] with a type)")


def check_keys(table: dict[str, Any], valid: Any, where: str) -> None:
    """Refuse keys of ``table`` that are not in ``valid``, naming the valid ones."""
    for key in table:
        if key not in valid:
            raise ConfigError(f"{where}: unknown key {key!r}; valid keys: {', '.join(sorted(valid))}")


def number(
    table: dict[str, Any], key: str, where: str, low: float, high: float | None = None, integer: bool = False
) -> Any:
    """``table[key]`` checked to be a number (an int if ``integer``) in [low, high)."""
    value = table[key]
    kind = "an integer" if integer else "a number"
    ok = isinstance(value, int) if integer else isinstance(value, (int, float))
    if (
        isinstance(value, bool)
        or not ok
        or not math.isfinite(value)
        or value < low
        or (high is not None and value >= high)
    ):
        bound = f">= {low}" if high is None else f"in [{low}, {high})"
        raise ConfigError(f"{where}.{key} must be {kind} {bound}, got {value!r}")
    return value


def resolve_training(config: dict[str, Any], task: str) -> dict[str, Any]:
    """[training] with every default filled in and each value checked."""
    table = {**TRAINING_KEYS, **config.get("training", {})}
    check_keys(table, TRAINING_KEYS, "training")
    number(table, "epochs", "training", 1, integer=True)
    number(table, "batch_size", "training", 1, integer=True)
    number(table, "validation_split", "training", 0.0, 1.0)
    number(table, "seed", "training", 0, integer=True)
    for flag in ("shuffle", "diagnose"):
        if not isinstance(table[flag], bool):
            raise ConfigError(f"training.{flag} must be true or false, got {table[flag]!r}")
    if table["metrics"] is None:
        table["metrics"] = ["accuracy"] if task == "classification" else ["mae"]
    if not (isinstance(table["metrics"], list) and all(isinstance(m, str) for m in table["metrics"])):
        raise ConfigError(f'training.metrics must be a list of names such as ["accuracy"], got {table["metrics"]!r}')
    return table


# -- TOML writing ------------------------------------------------------------------------------------
def _value(value: Any, where: str) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        return ("inf" if value > 0 else "-inf") if math.isinf(value) else repr(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)  # a JSON string is a valid TOML basic string
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_value(v, where) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{_key(k)} = {_value(v, where)}" for k, v in value.items() if v is not None) + "}"
    raise ConfigError(f"cannot write {where} = {value!r} ({type(value).__name__}) to TOML")


def _key(key: str) -> str:
    return key if key.replace("_", "").replace("-", "").isalnum() else json.dumps(key)


def _is_table_array(value: Any) -> bool:
    return isinstance(value, list) and bool(value) and all(isinstance(v, dict) for v in value)


def _table(lines: list[str], header: str, table: dict[str, Any], array: bool = False) -> None:
    lines.append(f"[[{header}]]" if array else f"[{header}]")
    nested = []
    for key, value in table.items():
        if value is None:
            continue
        if isinstance(value, dict) or _is_table_array(value):
            nested.append((key, value))
        else:
            lines.append(f"{_key(key)} = {_value(value, f'{header}.{key}')}")
    lines.append("")
    for key, value in nested:
        if isinstance(value, dict):
            _table(lines, f"{header}.{_key(key)}", value)
        else:
            for item in value:
                _table(lines, f"{header}.{_key(key)}", item, array=True)


def dumps(config: dict[str, Any]) -> str:
    """TOML text for a config dict (tables, arrays of tables, scalars, lists; ``None`` is left out)."""
    lines: list[str] = []
    for key, value in config.items():
        if isinstance(value, dict):
            _table(lines, _key(key), value)
        elif _is_table_array(value):
            for item in value:
                _table(lines, _key(key), item, array=True)
        elif value is not None and not (isinstance(value, list) and not value):
            lines.insert(0, f"{_key(key)} = {_value(value, key)}")
    return "\n".join(lines).rstrip() + "\n"


def loads(text: str) -> dict[str, Any]:
    """Parse TOML text (the inverse of ``dumps``)."""
    return tomllib.loads(text)


__all__ = [
    "DATA_NAMES",
    "TABLES",
    "check_keys",
    "check_tables",
    "dumps",
    "examples",
    "find",
    "load",
    "loads",
    "number",
    "resolve_training",
]
