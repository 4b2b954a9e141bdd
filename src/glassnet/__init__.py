"""glassnet: a glass-box deep-learning library on NumPy.

Every layer owns a forward pass and a hand-derived backward pass, every gradient is checked against
finite differences, and the library shows (and diagnoses) what training does inside.
"""

from __future__ import annotations

from . import (
    activations,
    callbacks,
    datasets,
    diagnostics,
    distributed,
    initializers,
    layers,
    losses,
    metrics,
    optimizers,
    preprocessing,
    regularizers,
    schedules,
    text,
    tune,
)
from ._version import __version__
from .averages import ewma
from .backend import floatx, set_floatx, set_seed
from .errors import (
    ConfigError,
    GlassnetError,
    LabelError,
    MissingDependencyError,
    ModelFileError,
    NonFiniteError,
    ShapeError,
    StateError,
    UnknownNameError,
)
from .export import export_onnx
from .layers import register_layer
from .models import Model, Sequential
from .models.perceptron import Perceptron
from .models.saving import load_model
from .parameter import Parameter

__all__ = [
    "ConfigError",
    "GlassnetError",
    "LabelError",
    "MissingDependencyError",
    "Model",
    "ModelFileError",
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
    "distributed",
    "ewma",
    "export_onnx",
    "floatx",
    "initializers",
    "layers",
    "load_model",
    "losses",
    "metrics",
    "optimizers",
    "preprocessing",
    "register_layer",
    "regularizers",
    "schedules",
    "text",
    "tune",
    "set_floatx",
    "set_seed",
]
