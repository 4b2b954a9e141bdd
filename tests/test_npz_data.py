"""``[data] name = "npz"`` and ``gn.datasets.load_npz``: Keras-style x_train/y_train/x_test/y_test files."""

from __future__ import annotations

import numpy as np
import pytest

import glassnet as gn
from glassnet.app import runs


def _write(path, n=40, **overrides):
    rng = np.random.default_rng(0)
    arrays = {
        "x_train": rng.integers(0, 256, size=(n, 6, 6), dtype=np.uint8),
        "y_train": rng.integers(0, 3, size=n).astype(np.uint8),
        "x_test": rng.integers(0, 256, size=(10, 6, 6), dtype=np.uint8),
        "y_test": rng.integers(0, 3, size=10).astype(np.uint8),
    }
    arrays.update(overrides)
    np.savez(path, **arrays)
    return arrays


def test_load_npz_returns_the_four_arrays_with_int64_labels(tmp_path):
    written = _write(tmp_path / "d.npz")
    x, y, x_test, y_test = gn.datasets.load_npz(tmp_path / "d.npz")
    np.testing.assert_array_equal(x, written["x_train"])
    np.testing.assert_array_equal(y_test, written["y_test"])
    assert y.dtype == np.int64 and x.dtype == np.uint8


def test_load_npz_refuses_bad_files_clearly(tmp_path):
    np.savez(tmp_path / "partial.npz", x_train=np.zeros((2, 3)))
    with pytest.raises(gn.ConfigError, match="missing array"):
        gn.datasets.load_npz(tmp_path / "partial.npz")
    _write(tmp_path / "uneven.npz", y_train=np.zeros(3, np.uint8))
    with pytest.raises(gn.ConfigError, match="x_train has 40 samples but y_train has 3"):
        gn.datasets.load_npz(tmp_path / "uneven.npz")
    (tmp_path / "junk.npz").write_bytes(b"not a zip")
    with pytest.raises(gn.ConfigError, match="not a readable"):
        gn.datasets.load_npz(tmp_path / "junk.npz")
    np.savez(tmp_path / "objects.npz", x_train=np.array([object()]), y_train=[1], x_test=[1], y_test=[1])
    with pytest.raises(gn.ConfigError):
        gn.datasets.load_npz(tmp_path / "objects.npz")  # pickled objects are never loaded
    with pytest.raises(gn.ConfigError, match="no such file"):
        gn.datasets.load_npz(tmp_path / "absent.npz")


def test_an_npz_config_uses_its_test_split_and_rescales_uint8(tmp_path):
    _write(tmp_path / "d.npz")
    run = runs.setup({"data": {"name": "npz", "path": str(tmp_path / "d.npz")}, "training": {"epochs": 1}})
    assert run.data.x_train.shape == (40, 36) and run.data.x_test.shape == (10, 36)
    assert run.config["preprocessing"]["rescale"] == pytest.approx(1 / 255)
    assert float(run.data.x_train.max()) <= 1.0


def test_the_shared_mnist_npz_loads(shared_data):
    x, y, x_test, y_test = gn.datasets.load_npz(shared_data / "mnist.npz")
    assert x.shape == (60000, 28, 28) and x_test.shape == (10000, 28, 28)
    assert y[:10].tolist() == [5, 0, 4, 1, 9, 2, 1, 3, 1, 4]
