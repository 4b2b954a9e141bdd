"""Preprocessing: scalers against scikit-learn (with a constant column), to_categorical, train_test_split."""

from __future__ import annotations

import math

import numpy as np
import pytest
from sklearn import preprocessing as sk

import glassnet as gn
from glassnet.preprocessing import MinMaxScaler, StandardScaler, to_categorical, train_test_split


@pytest.fixture
def data(rng):
    """Training and test data with different statistics; column 2 is constant in training."""
    train = rng.normal(3.0, 2.0, size=(40, 4)) * np.array([1.0, 10.0, 1.0, 0.01])
    train[:, 2] = 123.456  # constant, yet its computed variance is round-off (2e-28), not 0
    test = rng.normal(0.0, 5.0, size=(9, 4))
    return train, test


@pytest.mark.parametrize("feature_range", [(0.0, 1.0), (-1.0, 2.0)])
def test_minmax_matches_sklearn(data, feature_range):
    train, test = data
    ours = MinMaxScaler(feature_range=feature_range)
    assert ours.fit(train) is ours
    ref = sk.MinMaxScaler(feature_range=feature_range).fit(train)
    for name in ("data_min_", "data_max_", "data_range_", "scale_", "min_"):
        np.testing.assert_allclose(getattr(ours, name), getattr(ref, name), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(ours.transform(test), ref.transform(test), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(ours.fit_transform(train), ref.transform(train), atol=1e-12)
    assert np.all(ours.transform(train)[:, 2] == feature_range[0])  # constant column: no division by zero
    np.testing.assert_allclose(ours.inverse_transform(ours.transform(test)), test, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("with_mean, with_std", [(True, True), (False, True), (True, False)])
def test_standard_matches_sklearn(data, with_mean, with_std):
    train, test = data
    ours = StandardScaler(with_mean=with_mean, with_std=with_std).fit(train)
    ref = sk.StandardScaler(with_mean=with_mean, with_std=with_std).fit(train)
    if with_mean:
        np.testing.assert_allclose(ours.mean_, ref.mean_, rtol=1e-12)
    if with_std:
        np.testing.assert_allclose(ours.var_, ref.var_, rtol=1e-10, atol=1e-20)
        np.testing.assert_allclose(ours.scale_, ref.scale_, rtol=1e-10)
        assert ours.scale_[2] == 1.0  # the constant column keeps scale 1
    np.testing.assert_allclose(ours.transform(test), ref.transform(test), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(ours.inverse_transform(ours.transform(test)), test, rtol=1e-12, atol=1e-12)
    assert np.all(np.isfinite(ours.transform(train)))


def test_standard_scaler_written_out(rng):
    x = rng.normal(size=(30, 3))
    expected = (x - x.mean(axis=0)) / x.std(axis=0)
    np.testing.assert_allclose(StandardScaler().fit_transform(x), expected, rtol=1e-12)


def test_float32_stays_float32(data):
    train, test = (a.astype(np.float32) for a in data)
    for scaler in (MinMaxScaler(), StandardScaler()):
        out = scaler.fit(train).transform(test)
        assert out.dtype == np.float32
        assert scaler.inverse_transform(out).dtype == np.float32


@pytest.mark.parametrize("scaler", [MinMaxScaler(), StandardScaler()])
def test_transform_before_fit_and_wrong_width_are_clear_errors(scaler, rng):
    with pytest.raises(gn.StateError, match="not fitted yet; call fit"):
        scaler.transform(rng.normal(size=(3, 2)))
    scaler.fit(rng.normal(size=(5, 2)))
    with pytest.raises(gn.ShapeError, match="expected 2 features .* got 3"):
        scaler.transform(rng.normal(size=(3, 3)))
    with pytest.raises(gn.ShapeError, match=r"reshape\(-1, 1\)"):
        scaler.transform(np.ones(3))


def test_bad_inputs_are_refused():
    with pytest.raises(gn.ConfigError, match="feature_range"):
        MinMaxScaler(feature_range=(1.0, 0.0))
    with pytest.raises(gn.NonFiniteError, match="NaN"):
        StandardScaler().fit(np.array([[1.0], [np.nan]]))


def test_to_categorical():
    out = to_categorical([2, 0, 1, 2])
    np.testing.assert_array_equal(out, np.eye(3)[[2, 0, 1, 2]])
    assert out.dtype == np.dtype(gn.floatx())
    assert to_categorical(np.array([[1], [0]]), num_classes=4).shape == (2, 4)
    np.testing.assert_array_equal(to_categorical(np.array([1.0, 0.0])), [[0, 1], [1, 0]])
    with pytest.raises(gn.LabelError, match=r"\[0, 2\].*from 0 to 3"):
        to_categorical([0, 3], num_classes=3)
    with pytest.raises(gn.LabelError, match="integers"):
        to_categorical([0.5, 1.0])
    with pytest.raises(gn.ConfigError, match="num_classes"):
        to_categorical([0, 1], num_classes=0)


@pytest.mark.parametrize("test_size, n_test", [(0.25, 25), (0.3, 30), (0.33, 33), (0.101, 11), (7, 7)])
def test_train_test_split_sizes_match_sklearn_rule(test_size, n_test):
    x, y = np.arange(200).reshape(100, 2), np.arange(100)
    x_train, x_test, y_train, y_test = train_test_split(x, y, test_size=test_size, seed=0)
    assert (
        len(x_test)
        == len(y_test)
        == n_test
        == (test_size if isinstance(test_size, int) else math.ceil(test_size * 100))
    )
    assert len(x_train) == len(y_train) == 100 - n_test
    np.testing.assert_array_equal(x_train[:, 0] // 2, y_train)  # rows stay paired
    np.testing.assert_array_equal(x_test[:, 0] // 2, y_test)
    np.testing.assert_array_equal(np.sort(np.concatenate([y_train, y_test])), np.arange(100))


def test_train_test_split_seeded_and_unshuffled(rng):
    x, y = rng.normal(size=(20, 3)), np.arange(20)
    first = train_test_split(x, y, seed=5)
    second = train_test_split(x, y, seed=5)
    for a, b in zip(first, second, strict=True):
        np.testing.assert_array_equal(a, b)
    assert not np.array_equal(first[3], train_test_split(x, y, seed=6)[3])
    _, _, y_train, y_test = train_test_split(x, y, test_size=0.2, shuffle=False)
    np.testing.assert_array_equal(y_test, np.arange(16, 20))
    np.testing.assert_array_equal(y_train, np.arange(16))


@pytest.mark.parametrize("test_size", [0.0, 1.0, 0, 20, -0.2, "half"])
def test_train_test_split_bad_sizes(test_size):
    with pytest.raises(gn.ConfigError, match="test_size"):
        train_test_split(np.zeros((20, 2)), np.zeros(20), test_size=test_size)


def test_train_test_split_length_mismatch():
    with pytest.raises(gn.ShapeError, match="10 samples but y has 9"):
        train_test_split(np.zeros((10, 2)), np.zeros(9))
