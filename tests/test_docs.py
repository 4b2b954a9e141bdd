"""The Python examples of the documentation pages run as written (each page's blocks together, in order)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

DOCS = Path(__file__).resolve().parents[1] / "docs"
PAGES = ["architecture.md"]


@pytest.mark.parametrize("page", PAGES)
def test_python_blocks_of_the_page_run(page, capsys):
    path = DOCS / page
    blocks = re.findall(r"```python\n(.*?)```", path.read_text(), re.S)
    assert blocks, f"{page} has no python examples"
    exec(compile("\n".join(blocks), str(path), "exec"), {"__name__": f"docs_{page}"})
