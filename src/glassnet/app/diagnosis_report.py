"""The run report's "Diagnosis" section and ``diagnostics.csv``, for runs trained with a GradientMonitor.

``glassnet train`` writes a run folder through ``glassnet.app.run_report``, which always asks
``report_section`` first. A run gets the section when its model was trained with a monitor, e.g. a
config with ``[[callbacks]] type = "GradientMonitor"``, ``[training] diagnose = true`` (the default), or
``fit(..., diagnose=True)``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .diagnosis_plots import diagnosis_html


def report_section(run: Any, run_dir: Path, history: Any, metrics: Any) -> tuple[str, str] | None:
    """``("Diagnosis", html)`` for a monitored run, after writing ``run_dir/diagnostics.csv``; else None."""
    record = getattr(getattr(run.model, "history", None), "diagnostics", None)
    if record is None:
        return None
    record.write_csv(Path(run_dir) / "diagnostics.csv")
    return "Diagnosis", diagnosis_html(record, heading=False, plots_dir=Path(run_dir) / "plots")
