"""CSV inputs of the command line, checked against the file: columns by header name, bad cells by line.

``glassnet train`` on a CSV records the feature columns it trained on in ``<run>/inputs.json``;
``glassnet predict RUN_DIR INPUT.csv`` then takes the input columns *by name*, so a file with the
columns in another order gives the same predictions, and a missing or unexpected column is an error
naming it. A NaN or Inf cell is refused with its line number in the file (blank lines counted), not
with a sample index after shuffling.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import numpy as np

from .._typing import Array
from ..errors import ConfigError

INPUTS_FILE = "inputs.json"


def data_lines(path: str | Path, delimiter: str = ",") -> list[int]:
    """The file line number (from 1) of every data row, as ``datasets.load_csv`` reads them."""
    lines: list[int] = []
    with open(path, newline="") as handle:
        reader = csv.reader(handle, delimiter=delimiter)
        for row in reader:
            if row:
                lines.append(reader.line_num)
    return lines[1:]  # the first non-empty row is the header


def refuse_nonfinite(x: Array, path: str | Path, columns: list[str], delimiter: str = ",") -> None:
    """A ConfigError naming the line and column of the first NaN or Inf cell of ``x``, if any."""
    bad = ~np.isfinite(x)
    if not bad.any():
        return
    row, col = (int(i) for i in np.argwhere(bad)[0])
    lines = data_lines(path, delimiter)
    line = lines[row] if row < len(lines) else row + 2
    raise ConfigError(
        f"{path}: line {line}, column {columns[col]!r} is {float(x[row, col])}; {int(bad.any(axis=1).sum())} row(s) "
        "hold NaN or Inf; hint: impute or drop them"
    )


def feature_columns(header: list[str], target: Any) -> list[str]:
    """The header without the target column (a name, an index, or None)."""
    if target is None:
        return list(header)
    index = header.index(target) if isinstance(target, str) else int(target) % len(header)
    return [name for i, name in enumerate(header) if i != index]


def write_inputs(run_dir: Path, data_table: dict[str, Any]) -> None:
    """Record the training CSV's feature columns in the run folder (nothing for other data sources)."""
    from .run_files import write_json

    if data_table.get("name") != "csv":
        return
    from ..datasets.files import csv_header

    header = csv_header(data_table["path"], data_table.get("delimiter", ","))
    write_json(run_dir / INPUTS_FILE, {"columns": feature_columns(header, data_table.get("target", -1))})


def read_inputs(run_dir: Path) -> list[str] | None:
    try:
        columns = json.loads((run_dir / INPUTS_FILE).read_text())["columns"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return [str(c) for c in columns] if isinstance(columns, list) else None


def select_by_name(x: Array, columns: list[str], wanted: list[str], path: str | Path) -> Array:
    """The columns of ``x`` named ``wanted``, in that order; missing or unexpected names are errors."""
    missing = [name for name in wanted if name not in columns]
    extra = [name for name in columns if name not in wanted]
    if missing or extra:
        parts = ([f"lacks {missing}"] if missing else []) + ([f"has unexpected {extra}"] if extra else [])
        raise ConfigError(f"{path}: the model was trained on columns {wanted}; this file {' and '.join(parts)}; "
                          "hint: columns are matched by their header names, in any order")
    return x[:, [columns.index(name) for name in wanted]]
