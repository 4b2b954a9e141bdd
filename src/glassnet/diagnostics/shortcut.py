"""What ``fit(..., diagnose=True)`` adds: a ``GradientMonitor`` on a probe batch, then the findings.

``fit`` sits below the diagnostics in the package's layers, so it does not import this module: it asks
the callback family of the registry for ``FitDiagnosis``, which this module registers.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from .._typing import Array
from ..callbacks import CALLBACKS
from .diagnosis import diagnose
from .monitor import GradientMonitor
from .probe import probe_count

PROBE_SIZE = 256


class FitDiagnosis(GradientMonitor):
    """A ``GradientMonitor`` whose probe is up to 256 training inputs, drawn with their own generator
    (``seed`` or 0) so that diagnosing does not change the shuffling of a seeded fit. For a model with
    several inputs ``x`` is a list of arrays, and the same rows are drawn from each."""

    @classmethod
    def for_fit(cls, x: Array | list[Array], seed: int | None) -> FitDiagnosis:
        rng = np.random.default_rng(0 if seed is None else seed)
        index = np.sort(rng.permutation(probe_count(x))[:PROBE_SIZE])
        return cls(probe=[a[index] for a in x] if isinstance(x, list) else x[index])

    def print_findings(self, history: Any, print_fn: Callable[[str], Any] = print) -> None:
        print_findings(history, print_fn)


CALLBACKS.register(FitDiagnosis)


def print_findings(history: Any, print_fn: Callable[[str], Any] = print) -> None:
    """Print ``diagnose(history)``: one paragraph per finding, or that none was found."""
    findings = diagnose(history)
    if not findings:
        print_fn("Diagnosis: no problems found (gradient flow, dead or saturated units, update ratio).")
        return
    print_fn(f"Diagnosis: {len(findings)} finding(s)")
    for finding in findings:
        print_fn(f"  - {finding.text}")
