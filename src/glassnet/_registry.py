"""The one registry: name -> class for every family (layers, models, activations, losses, optimizers, ...).

Each family is a ``Family`` inside one module-level table, created on first use by ``family(name, base)``:

    layers        Dense, Conv2D, Sequential, Functional, ...  (``gn.register_layer`` adds yours)
    activation, loss, metric, optimizer, initializer, regularizer, schedule, callback, scaler, experiment

A family resolves identifiers: an instance, a registered name or alias (``"adam"``, ``"mse"``), a class
name (``"AdamW"``), or a ``{"class_name": ..., "config": {...}}`` dict. Only registered classes can be
built from a string or a dict, so a saved config or a TOML file never runs other code.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any, Generic, TypeVar

from .errors import ConfigError, UnknownNameError

T = TypeVar("T")
C = TypeVar("C", bound=type)


def snake_case(name: str) -> str:
    """``"GlorotUniform"`` -> ``"glorot_uniform"``, ``"LeakyReLU"`` -> ``"leaky_relu"``."""
    name = re.sub(r"(?<=[A-Z])(?=[A-Z][a-z])", "_", name.replace("PReLU", "Prelu").replace("ReLU", "Relu"))
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", name).lower()


class Family(Generic[T]):
    """The classes of one family, by class name and by lower-case alias."""

    def __init__(self, name: str, base: type) -> None:
        self.family = name
        self.base = base
        self._classes: dict[str, type] = {}
        self._aliases: dict[str, Callable[[], Any]] = {}

    def register(self, cls: C, *names: str) -> C:
        """Add ``cls`` under its class name and ``names`` (default: its snake-case name); returns ``cls``."""
        if not (isinstance(cls, type) and issubclass(cls, self.base)):
            raise ConfigError(f"register: {cls!r} is not a subclass of {self.base.__name__}; the {self.family} "
                              f"family holds only {self.base.__name__} classes")
        self._classes[cls.__name__] = cls
        for name in names or (snake_case(cls.__name__),):
            self._aliases[name] = cls
        return cls

    def alias(self, name: str, factory: Callable[[], Any]) -> None:
        self._aliases[name] = factory

    def names(self) -> list[str]:
        """The aliases ``get`` accepts (besides class names)."""
        return sorted(self._aliases)

    def class_names(self) -> list[str]:
        return sorted(self._classes)

    def classes(self) -> dict[str, type]:
        """Class name -> class, for every registered class."""
        return dict(self._classes)

    def lookup_class(self, name: Any, where: str = "") -> type:
        """The class for a class name (``"AdamW"``), its lower or snake case (``"adam_w"``) or an alias
        (``"adamw"``); an ``UnknownNameError`` naming the valid choices otherwise."""
        if isinstance(name, str):
            if name in self._classes:
                return self._classes[name]
            key = name.lower()
            for cls_name, cls in self._classes.items():
                if key in (cls_name.lower(), snake_case(cls_name)):
                    return cls
            target = self._aliases.get(key)
            if isinstance(target, type):
                return target
        place = f"{where}: " if where else ""
        raise UnknownNameError(f"{place}unknown {self.family} {name!r}; valid: {', '.join(self.class_names())}")

    def get(self, identifier: Any, where: str = "") -> T:
        """Resolve ``identifier`` to an instance, or raise naming the valid choices."""
        if isinstance(identifier, self.base):
            return identifier  # type: ignore[return-value]
        place = f"{where}: " if where else ""
        if isinstance(identifier, str):
            key = identifier.lower()
            if key in self._aliases:
                return self._aliases[key]()  # type: ignore[no-any-return]
            if identifier in self._classes:
                return self._classes[identifier]()  # type: ignore[no-any-return]
            raise UnknownNameError(
                f"{place}unknown {self.family} {identifier!r}; valid names: {', '.join(self.names())}"
            )
        if isinstance(identifier, dict):
            return self.from_config(identifier)
        if isinstance(identifier, type) and issubclass(identifier, self.base):
            return identifier()  # type: ignore[no-any-return, return-value]
        raise UnknownNameError(
            f"{place}expected a {self.family} name or instance, got {type(identifier).__name__} "
            f"{identifier!r}; valid names: {', '.join(self.names())}"
        )

    def from_config(self, config: dict[str, Any]) -> T:
        """Build from ``{"class_name", "config"}``; the class's ``from_config`` is used when it has one."""
        name = config.get("class_name") if isinstance(config, dict) else None
        if name not in self._classes:
            hint = "; hint: register your class with @glassnet.register_layer" if self.family == "layer" else ""
            raise ConfigError(
                f"unknown {self.family} class {name!r} in config; known: {', '.join(self.class_names())}{hint}"
            )
        cls = self._classes[name]
        kwargs = config.get("config", {})
        if not isinstance(kwargs, dict):
            raise ConfigError(f"{self.family} {name!r}: config must be a dict, got {type(kwargs).__name__}")
        build = getattr(cls, "from_config", None)
        return build(kwargs) if build is not None else cls(**kwargs)  # type: ignore[no-any-return]


_FAMILIES: dict[str, Family[Any]] = {}


def family(name: str, base: type) -> Family[Any]:
    """The family ``name`` of the one registry (created on first use with its base class)."""
    found = _FAMILIES.get(name)
    if found is None:
        found = _FAMILIES[name] = Family(name, base)
    elif not issubclass(base, found.base) and not issubclass(found.base, base):
        raise ConfigError(f"registry family {name!r} holds {found.base.__name__}, not {base.__name__}")
    return found


def families() -> dict[str, Family[Any]]:
    """Every family, by name (for tests and documentation)."""
    return dict(_FAMILIES)


def serialize(obj: Any) -> dict[str, Any] | None:
    """``{"class_name": ..., "config": obj.get_config()}`` or ``None``."""
    if obj is None:
        return None
    return {"class_name": type(obj).__name__, "config": obj.get_config()}
