"""Shared fixtures: seeded generators, float64 mode, PyTorch (required in CI), the shared datasets."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

import glassnet as gn

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(1234)


@pytest.fixture
def float64():
    """Build layers in float64 for gradient checks and parity tests; restore floatx afterwards."""
    saved = gn.floatx()
    gn.set_floatx("float64")
    yield
    gn.set_floatx(saved)


@pytest.fixture(autouse=True)
def _restore_global_state():
    saved = gn.floatx()
    gn.backend.clear_session()  # automatic layer names start at "dense" in every test, as in Keras's tests
    yield
    gn.set_floatx(saved)


@pytest.fixture(scope="session")
def torch():
    """PyTorch as a reference implementation, float64. Skips locally if absent; CI requires it."""
    try:
        import torch as torch_module
    except ImportError:
        if os.environ.get("GLASSNET_REQUIRE_TORCH"):
            pytest.fail("PyTorch is required here (GLASSNET_REQUIRE_TORCH is set): pip install torch==2.13.0")
        pytest.skip("PyTorch not installed: pip install torch==2.13.0 to run the parity tests")
    torch_module.set_default_dtype(torch_module.float64)
    return torch_module


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The ../shared/data folder beside the checkout; tests that need it skip where it is absent."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"shared datasets not found at {SHARED_DATA}")
    return SHARED_DATA
