"""Numbers for people, shared by the progress bar and the run reports."""

from __future__ import annotations

import math


def format_number(value: float) -> str:
    """A metric value for people: 4 decimals in the usual range, scientific notation for very large or
    very small magnitudes (a diverged loss stays one short cell), ``inf``/``nan`` as such."""
    value = float(value)
    if not math.isfinite(value):
        return str(value)
    if value != 0.0 and not 1e-3 <= abs(value) < 1e6:
        return f"{value:.4e}"
    return f"{value:.4f}"
