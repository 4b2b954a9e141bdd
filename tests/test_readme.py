"""The README's Python examples run as written (together, in order, as a reader would paste them), and so
do those of the documentation pages in ``DOCS``."""

from __future__ import annotations

import re
import sys
import types
from pathlib import Path

import pytest

from glassnet.layers import LAYERS

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
DOCS = ["docs/custom_layers.md", "docs/generative.md"]


def _python_blocks(path: Path) -> str:
    return "\n".join(re.findall(r"```python\n(.*?)```", path.read_text(), re.S))


def test_readme_python_blocks_run(capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # the examples write files (model.onnx) where a reader would: the current folder
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), re.S)
    assert len(blocks) >= 3
    namespace: dict = {}
    exec(compile("\n".join(blocks), str(README), "exec"), namespace)
    assert namespace["model"].count_params() == 47
    assert "Diagnosis:" in capsys.readouterr().out
    assert (tmp_path / "model.onnx").stat().st_size > 0


@pytest.mark.parametrize("page", DOCS)
def test_doc_python_blocks_run(page, monkeypatch):
    """A page's blocks run as one module (so its classes pickle); layers it registers are removed after."""
    path = ROOT / page
    source = _python_blocks(path)
    assert source.strip(), f"{page} has no python blocks"
    module = types.ModuleType(f"doc_{path.stem}")
    monkeypatch.setitem(sys.modules, module.__name__, module)
    monkeypatch.setattr(LAYERS, "_classes", dict(LAYERS._classes))
    monkeypatch.setattr(LAYERS, "_aliases", dict(LAYERS._aliases))
    exec(compile(source, str(path), "exec"), module.__dict__)
