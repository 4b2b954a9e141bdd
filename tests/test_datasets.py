"""Datasets: synthetic sets against their formulas, IDX files written from the shared MNIST arrays, CSV."""

from __future__ import annotations

import gzip
import struct

import numpy as np
import pytest

import glassnet as gn
from glassnet import datasets

CLASSIFICATION = [
    datasets.make_xor,
    datasets.make_moons,
    datasets.make_circles,
    datasets.make_spirals,
    datasets.make_blobs,
]


@pytest.mark.parametrize("make", CLASSIFICATION)
def test_classification_sets_are_2d_balanced_and_seeded(make):
    x, y = make(n_samples=120, seed=7)
    assert x.shape == (120, 2) and x.dtype == np.float64
    assert y.shape == (120,) and y.dtype == np.int64
    counts = np.bincount(y)
    assert counts.max() - counts.min() <= 1
    x2, y2 = make(n_samples=120, seed=7)
    np.testing.assert_array_equal(x, x2)
    np.testing.assert_array_equal(y, y2)
    assert not np.array_equal(x, make(n_samples=120, seed=8)[0])


def test_xor_without_noise_is_the_truth_table():
    x, y = datasets.make_xor(n_samples=4, noise=0.0, seed=0)
    rows = {(int(a), int(b), int(t)) for (a, b), t in zip(x, y, strict=True)}
    assert rows == {(0, 0, 0), (0, 1, 1), (1, 0, 1), (1, 1, 0)}


def test_moons_without_noise_lie_on_their_half_circles():
    x, y = datasets.make_moons(n_samples=200, noise=0.0, seed=1)
    upper, lower = x[y == 0], x[y == 1]
    np.testing.assert_allclose(np.hypot(upper[:, 0], upper[:, 1]), 1.0)
    assert (upper[:, 1] >= -1e-12).all()
    np.testing.assert_allclose(np.hypot(1.0 - lower[:, 0], 0.5 - lower[:, 1]), 1.0)
    assert (lower[:, 1] <= 0.5 + 1e-12).all()


def test_circles_without_noise_have_the_two_radii():
    x, y = datasets.make_circles(n_samples=100, noise=0.0, factor=0.3, seed=2)
    radius = np.hypot(x[:, 0], x[:, 1])
    np.testing.assert_allclose(radius[y == 0], 1.0)
    np.testing.assert_allclose(radius[y == 1], 0.3)


def test_spirals_without_noise_follow_the_arm_formula():
    x, y = datasets.make_spirals(n_samples=90, noise=0.0, n_classes=3, seed=3)
    r = np.hypot(x[:, 0], x[:, 1])
    angle = np.arctan2(x[:, 0], x[:, 1])  # x = r (sin a, cos a)
    expected = 4.0 * r + 2.0 * np.pi * y / 3
    np.testing.assert_allclose(np.cos(angle - expected), 1.0, atol=1e-9)


@pytest.mark.parametrize("seed", range(4))
def test_two_blobs_are_always_linearly_separable(seed):
    """A linear program finds w, b with y_i (w . x_i + b) >= 1 exactly when the classes are separable."""
    optimize = pytest.importorskip("scipy.optimize")
    x, y = datasets.make_blobs(n_samples=400, noise=2.5, radius=2.0, seed=seed)  # overlap without the clipping
    signs = np.where(y == 1, 1.0, -1.0)
    constraints = -signs[:, None] * np.hstack([x, np.ones((len(x), 1))])
    result = optimize.linprog(np.zeros(3), A_ub=constraints, b_ub=-np.ones(len(x)), bounds=[(None, None)] * 3)
    assert result.status == 0, result.message  # feasible: a separating line exists
    assert gn.Perceptron(max_epochs=5000, seed=0).fit(x, y).converged_
    x_plain, y_plain = datasets.make_blobs(n_samples=400, noise=2.5, centers=3, radius=2.0, seed=seed)
    assert x_plain.shape == (400, 2) and set(np.unique(y_plain)) == {0, 1, 2}


def test_regression_is_linear_and_outliers_are_counted():
    x, y = datasets.make_regression(n_samples=200, noise=0.0, n_features=3, seed=4)
    design = np.hstack([x, np.ones((200, 1))])
    coef, *_ = np.linalg.lstsq(design, y, rcond=None)
    np.testing.assert_allclose(design @ coef, y, atol=1e-10)
    _, y_out = datasets.make_regression(n_samples=200, noise=0.0, n_features=3, outliers=0.1, seed=4)
    shifted = np.abs(y_out - y) > 1e-9
    assert shifted.sum() == 20
    assert (np.abs(y_out - y)[shifted] >= 5.0 * y.std() - 1e-9).all()


def test_bad_arguments_are_refused():
    with pytest.raises(gn.ConfigError, match="n_samples"):
        datasets.make_moons(n_samples=0)
    with pytest.raises(gn.ConfigError, match="noise"):
        datasets.make_xor(noise=-1.0)
    with pytest.raises(gn.ConfigError, match="outliers"):
        datasets.make_regression(outliers=1.5)


def test_load_digits_still_ships():
    x, y = datasets.load_digits()
    assert x.shape == (1797, 8, 8) and x.dtype == np.uint8 and x.max() == 16
    assert np.bincount(y).tolist() == [178, 182, 177, 183, 181, 182, 181, 179, 174, 180]


# -- IDX ----------------------------------------------------------------------------------------------
def write_idx(path, array, compress):
    """IDX as on LeCun's page: 0, 0, type 0x08, ndim, big-endian uint32 sizes, then the bytes."""
    header = struct.pack(">BBBB", 0, 0, 0x08, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
    data = header + np.ascontiguousarray(array, dtype=np.uint8).tobytes()
    path.write_bytes(gzip.compress(data, compresslevel=1) if compress else data)
    return path


@pytest.fixture(scope="module")
def mnist_test(shared_data):
    path = shared_data / "mnist.npz"
    if not path.is_file():
        pytest.skip(f"{path} not found")
    with np.load(path) as data:
        return data["x_test"], data["y_test"]


@pytest.mark.parametrize("compress", [True, False])
def test_load_idx_reads_mnist_files(tmp_path, mnist_test, compress):
    images, labels = mnist_test
    suffix = ".gz" if compress else ""
    x, y = datasets.load_idx(
        write_idx(tmp_path / f"images{suffix}", images, compress),
        write_idx(tmp_path / f"labels{suffix}", labels, compress),
    )
    assert x.dtype == np.uint8 and x.shape == (10000, 28, 28)
    assert y.dtype == np.int64
    np.testing.assert_array_equal(x, images)
    np.testing.assert_array_equal(y, labels)


def test_load_idx_refuses_bad_files(tmp_path, mnist_test):
    images, labels = mnist_test[0][:10], mnist_test[1][:10]
    img, lab = write_idx(tmp_path / "img", images, False), write_idx(tmp_path / "lab", labels, True)
    with pytest.raises(gn.ConfigError, match="swapped"):
        datasets.load_idx(lab, img)
    (tmp_path / "cut").write_bytes(img.read_bytes()[:-7])
    with pytest.raises(gn.ConfigError, match="truncated or corrupt"):
        datasets.load_idx(tmp_path / "cut", lab)
    with pytest.raises(gn.ConfigError, match="holds 10 images but .* 9 labels"):
        datasets.load_idx(img, write_idx(tmp_path / "lab9", labels[:9], False))
    (tmp_path / "junk").write_bytes(b"PK\x03\x04 not idx")
    with pytest.raises(gn.ConfigError, match="not an IDX file"):
        datasets.load_idx(tmp_path / "junk", lab)
    with pytest.raises(gn.ConfigError, match="cannot read"):
        datasets.load_idx(tmp_path / "missing", lab)


# -- CSV ----------------------------------------------------------------------------------------------
def test_load_csv_by_name_index_and_text_labels(tmp_path):
    path = tmp_path / "data.csv"
    path.write_text("a,b,species\n1.5,2,setosa\n3,4.25,virginica\n5,6,setosa\n")
    x, y = datasets.load_csv(path, target="species")
    np.testing.assert_array_equal(x, [[1.5, 2.0], [3.0, 4.25], [5.0, 6.0]])
    np.testing.assert_array_equal(y, [0, 1, 0])
    semicolons = tmp_path / "semicolons.csv"
    semicolons.write_text("t;u;v\n1.5;2;7\n3;4.25;8\n")
    x, y = datasets.load_csv(semicolons, target=0, delimiter=";")
    np.testing.assert_array_equal(x, [[2.0, 7.0], [4.25, 8.0]])
    assert y.dtype == np.float64 and y.tolist() == [1.5, 3.0]
    numeric = tmp_path / "numeric.csv"
    numeric.write_text("x,y\n1,0\n2,1\n")
    _, labels = datasets.load_csv(numeric)
    assert labels.dtype == np.int64 and labels.tolist() == [0, 1]
    features, none = datasets.load_csv(numeric, target=None)
    assert none is None and features.shape == (2, 2)


def test_load_csv_errors_name_the_column(tmp_path):
    path = tmp_path / "data.csv"
    path.write_text("a,b,label\n1,x,0\n")
    with pytest.raises(gn.ConfigError, match="'nope' not found; columns: a, b, label"):
        datasets.load_csv(path, target="nope")
    with pytest.raises(gn.ConfigError, match="column 'b' must be numeric, got 'x'"):
        datasets.load_csv(path, target="label")


def test_make_ring_draws_balanced_modes_on_the_circle():
    x, y = gn.datasets.make_ring(800, noise=0.02, n_modes=8, radius=2.0, seed=3)
    assert x.shape == (800, 2) and y.dtype == np.int64 and np.bincount(y).tolist() == [100] * 8
    centres = 2.0 * np.stack([np.cos(np.pi * y / 4), np.sin(np.pi * y / 4)], axis=1)
    offsets = x - centres
    assert abs(offsets.std() - 0.02) < 0.002 and np.abs(offsets).max() < 0.1
    np.testing.assert_array_equal(gn.datasets.make_ring(800, seed=3)[0], x)
    with pytest.raises(gn.ConfigError, match="n_modes"):
        gn.datasets.make_ring(10, n_modes=0)
