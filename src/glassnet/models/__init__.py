"""Models: ``Sequential`` (and the ``Model`` base class they share)."""

from .model import Model
from .sequential import Sequential

__all__ = ["Model", "Sequential"]
