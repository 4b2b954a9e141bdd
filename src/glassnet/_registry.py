"""Name -> class lookup shared by every family (activations, losses, initializers, ...)."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any, Generic, TypeVar

from .errors import ConfigError, UnknownNameError

T = TypeVar("T")


def snake_case(name: str) -> str:
    """``"GlorotUniform"`` -> ``"glorot_uniform"``, ``"LeakyReLU"`` -> ``"leaky_relu"``."""
    name = re.sub(r"(?<=[A-Z])(?=[A-Z][a-z])", "_", name.replace("PReLU", "Prelu").replace("ReLU", "Relu"))
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", name).lower()


class Registry(Generic[T]):
    """Resolves identifiers of one family: an instance, a string, or a ``{"class_name", "config"}`` dict.

    Only classes registered here can be built from strings or dicts, so a config never runs other code.
    """

    def __init__(self, family: str, base: type) -> None:
        self.family = family
        self.base = base
        self._classes: dict[str, type] = {}
        self._aliases: dict[str, Callable[[], Any]] = {}

    def register(self, cls: type, *names: str) -> type:
        self._classes[cls.__name__] = cls
        for name in names or (snake_case(cls.__name__),):
            self._aliases[name] = cls
        return cls

    def alias(self, name: str, factory: Callable[[], Any]) -> None:
        self._aliases[name] = factory

    def names(self) -> list[str]:
        return sorted(self._aliases)

    def get(self, identifier: Any, where: str = "") -> T:
        """Resolve ``identifier`` to an instance, or raise naming the valid choices."""
        if isinstance(identifier, self.base):
            return identifier  # type: ignore[return-value]
        if isinstance(identifier, str):
            key = identifier.lower()
            if key in self._aliases:
                return self._aliases[key]()  # type: ignore[no-any-return]
            if identifier in self._classes:
                return self._classes[identifier]()  # type: ignore[no-any-return]
            place = f"{where}: " if where else ""
            raise UnknownNameError(
                f"{place}unknown {self.family} {identifier!r}; valid names: {', '.join(self.names())}"
            )
        if isinstance(identifier, dict):
            return self.from_config(identifier)
        if isinstance(identifier, type) and issubclass(identifier, self.base):
            return identifier()  # type: ignore[no-any-return, return-value]
        place = f"{where}: " if where else ""
        raise UnknownNameError(
            f"{place}expected a {self.family} name or instance, got {type(identifier).__name__} "
            f"{identifier!r}; valid names: {', '.join(self.names())}"
        )

    def from_config(self, config: dict[str, Any]) -> T:
        name = config.get("class_name")
        if name not in self._classes:
            raise ConfigError(
                f"unknown {self.family} class {name!r} in config; valid: {', '.join(sorted(self._classes))}"
            )
        return self._classes[name](**config.get("config", {}))  # type: ignore[no-any-return]


def serialize(obj: Any) -> dict[str, Any] | None:
    """``{"class_name": ..., "config": obj.get_config()}`` or ``None``."""
    if obj is None:
        return None
    return {"class_name": type(obj).__name__, "config": obj.get_config()}
