"""The glass box: gradient checks, training monitoring and diagnosis, experiments.

check_layer, check_loss   one layer's / loss's backward against central differences
check_multi_input_layer   the same for a layer or graph model that takes a list of inputs
gradient_check            a whole model's loss gradients against central differences (float64)
GradientMonitor           per layer and epoch: gradient norms, update ratios, activation statistics
diagnose                  findings (vanishing/exploding gradients, dying ReLU, ...) with remedies
"""

from .diagnosis import Finding, diagnose
from .gradcheck import (
    GradientReport,
    check_layer,
    check_loss,
    check_multi_input_layer,
    numeric_gradient,
    relative_error,
)
from .model_check import gradient_check
from .monitor import Diagnostics, GradientMonitor
from .shortcut import FitDiagnosis

__all__ = [
    "Diagnostics",
    "Finding",
    "FitDiagnosis",
    "GradientMonitor",
    "GradientReport",
    "check_layer",
    "check_loss",
    "check_multi_input_layer",
    "diagnose",
    "gradient_check",
    "numeric_gradient",
    "relative_error",
]
