"""Errors raised by glassnet.

Every error is a ``GlassnetError`` and also the built-in exception a Python user would expect
(``ValueError`` for bad values, ``ImportError`` for a missing extra), so ``except ValueError`` works.
Messages name the layer or argument, the expected and the actual thing, and a hint.
"""

from __future__ import annotations


class GlassnetError(Exception):
    """Base class of every error glassnet raises on purpose."""


class ShapeError(GlassnetError, ValueError):
    """An array has the wrong shape for the layer, loss or model it was given to."""


class LabelError(GlassnetError, ValueError):
    """Labels do not fit the loss (one-hot for a sparse loss, integers for a categorical one)."""


class NonFiniteError(GlassnetError, ValueError):
    """Inputs or targets hold NaN or Inf."""


class UnknownNameError(GlassnetError, ValueError):
    """A string identifier (activation, loss, initializer, optimizer, ...) is not known."""


class ConfigError(GlassnetError, ValueError):
    """A configuration value (argument, TOML key, model file) is invalid."""


class ModelFileError(ConfigError):
    """A model file (or a backup) is damaged, was edited, or asks for more than the loader allows."""


class StateError(GlassnetError, RuntimeError):
    """An object is used before it is ready (backward before forward, predict before build, ...)."""


class MissingDependencyError(GlassnetError, ImportError):
    """An optional extra is not installed; the message names the pip command to run."""


def check_positive(name: str, value: object, allow_zero: bool = False, owner: str = "") -> float:
    """``value`` as a float, or a ConfigError if it is not finite and > 0 (>= 0 with ``allow_zero``)."""
    import math

    number = float(value)  # type: ignore[arg-type]
    ok = number >= 0 if allow_zero else number > 0
    if not (ok and math.isfinite(number)):
        bound = ">= 0" if allow_zero else "> 0"
        place = f"{owner}: " if owner else ""
        raise ConfigError(f"{place}{name} must be a finite number {bound}, got {number!r}")
    return number


def require(module: str, extra: str) -> object:
    """Import an optional dependency or raise MissingDependencyError naming the extra to install."""
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise MissingDependencyError(
            f"{module} is needed for this feature but is not installed; "
            f'run: pip install "glassnet[{extra}]"'
        ) from exc
