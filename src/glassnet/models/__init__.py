"""Models: ``Sequential`` (a stack), ``Functional`` (a graph) and the ``Model`` base class they share."""

from .functional import Functional
from .model import Model
from .sequential import Sequential

__all__ = ["Functional", "Model", "Sequential"]
