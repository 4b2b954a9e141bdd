"""glassnet: a glass-box deep-learning library on NumPy.

Every layer owns a forward pass and a hand-derived backward pass, every gradient is checked against
finite differences, and the library shows (and diagnoses) what training does inside.
"""

from __future__ import annotations

__version__ = "0.1.0"

from . import (
    activations,
    callbacks,
    datasets,
    diagnostics,
    initializers,
    layers,
    losses,
    metrics,
    optimizers,
    preprocessing,
    regularizers,
    schedules,
    text,
)
from .averages import ewma
from .backend import floatx, set_floatx, set_seed
from .errors import (
    ConfigError,
    GlassnetError,
    LabelError,
    MissingDependencyError,
    NonFiniteError,
    ShapeError,
    StateError,
    UnknownNameError,
)
from .io import load_model
from .models import Model, Sequential
from .parameter import Parameter
from .perceptron import Perceptron

__all__ = [
    "ConfigError",
    "GlassnetError",
    "LabelError",
    "MissingDependencyError",
    "Model",
    "NonFiniteError",
    "Parameter",
    "Perceptron",
    "Sequential",
    "ShapeError",
    "StateError",
    "UnknownNameError",
    "__version__",
    "activations",
    "callbacks",
    "datasets",
    "diagnostics",
    "ewma",
    "floatx",
    "initializers",
    "layers",
    "load_model",
    "losses",
    "metrics",
    "optimizers",
    "preprocessing",
    "regularizers",
    "schedules",
    "text",
    "set_floatx",
    "set_seed",
]
