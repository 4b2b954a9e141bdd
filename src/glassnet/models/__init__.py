"""Models: ``Sequential`` (a stack), ``Functional`` (a graph) and the ``Model`` base class they share."""

from ..layers import register_layer
from .functional import Functional
from .model import Model
from .sequential import Sequential

# Models are layers: registered in the layer family, a saved model can hold nested models.
register_layer(Sequential)
register_layer(Functional)

__all__ = ["Functional", "Model", "Sequential"]
