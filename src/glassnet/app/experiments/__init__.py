"""The glass-box experiments behind ``glassnet experiment NAME`` (docs/experiments.md)."""

from .core import NAMES, ExperimentResult, run_experiment

__all__ = ["NAMES", "ExperimentResult", "run_experiment"]
