"""``custom_objects``: classes a caller vouches for, known to the registry for one load only (Keras' name)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from .._registry import families
from ..errors import ConfigError


@contextmanager
def custom_objects_scope(objects: dict[str, Any] | None) -> Iterator[None]:
    """Inside the block, each ``name -> class`` of ``objects`` resolves in its family (layer, loss,
    optimizer, schedule, metric, ...) as if registered; afterwards the registry is as it was.

    Only classes are accepted: a file names a class, and the caller decides which class that is, so a
    model file still cannot reach anything the caller did not hand over.
    """
    if not objects:
        yield
        return
    if not isinstance(objects, dict):
        raise ConfigError(f"custom_objects must be a dict of name -> class, got {type(objects).__name__}")
    added: list[tuple[Any, str, Any]] = []
    try:
        for name, cls in objects.items():
            family = _family_of(name, cls)
            added.append((family, name, family._classes.get(name)))
            family._classes[name] = cls
        yield
    finally:
        for family, name, previous in reversed(added):
            if previous is None:
                family._classes.pop(name, None)
            else:
                family._classes[name] = previous


def _family_of(name: Any, cls: Any) -> Any:
    if not isinstance(name, str) or not isinstance(cls, type):
        raise ConfigError(f"custom_objects: {name!r} must map a class name to a class, got {cls!r}; hint: "
                          "functions cannot be saved, subclass the matching glassnet base class")
    # the most specific family: a Model is a Layer, so its family is "layer" either way
    matches = [f for f in families().values() if issubclass(cls, f.base)]
    if not matches:
        bases = ", ".join(sorted({f.base.__name__ for f in families().values()}))
        raise ConfigError(f"custom_objects: {cls.__name__} is not a subclass of any glassnet base ({bases})")
    return max(matches, key=lambda f: len(f.base.__mro__))
