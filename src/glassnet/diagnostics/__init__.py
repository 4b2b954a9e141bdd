"""The glass box: gradient checks (and, as it grows, training diagnostics)."""

from .gradcheck import GradientReport, check_layer, check_loss, numeric_gradient, relative_error

__all__ = ["GradientReport", "check_layer", "check_loss", "numeric_gradient", "relative_error"]
