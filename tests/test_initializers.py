"""Initializers: the variance each formula promises, fans, seeds, names."""

from __future__ import annotations

import math

import numpy as np
import pytest

import glassnet as gn
from glassnet.initializers import compute_fans

SHAPE = (400, 300)  # fan_in 400, fan_out 300: 120,000 draws, so the sample std is within ~1% of the truth


@pytest.mark.parametrize(("name", "std"), [
    ("glorot_uniform", math.sqrt(2 / 700)),   # U(+-sqrt(6/(in+out))) has variance 2/(in+out)
    ("glorot_normal", math.sqrt(2 / 700)),
    ("he_normal", math.sqrt(2 / 400)),
    ("he_uniform", math.sqrt(2 / 400)),
    ("lecun_normal", math.sqrt(1 / 400)),
    ("random_normal", 0.05),
    ("random_uniform", 0.1 / math.sqrt(12)),
])
def test_initializer_has_the_promised_spread(name, std):
    w = gn.initializers.get(name)(SHAPE, "float64")
    assert abs(w.mean()) < 0.02 * std * 10
    assert w.std() == pytest.approx(std, rel=0.02)


def test_uniform_limits_are_exact():
    w = gn.initializers.GlorotUniform(seed=0)(SHAPE, "float64")
    assert np.abs(w).max() <= math.sqrt(6 / 700)
    assert np.abs(w).max() > 0.99 * math.sqrt(6 / 700)
    h = gn.initializers.HeUniform(seed=0)(SHAPE, "float64")
    assert np.abs(h).max() <= math.sqrt(6 / 400)


def test_constant_zeros_ones():
    assert np.all(gn.initializers.Constant(0.3)((2, 2)) == np.float32(0.3))
    assert not gn.initializers.get("zeros")((3,)).any()
    assert np.all(gn.initializers.get("ones")((3,)) == 1)


def test_fans_follow_the_kernel_convention():
    assert compute_fans((4, 5)) == (4, 5)
    assert compute_fans((3, 3, 8, 16)) == (72, 144)  # a 3x3 conv kernel: receptive field 9


def test_seeded_initializer_repeats_and_defaults_follow_set_seed():
    init = gn.initializers.HeNormal(seed=42)
    np.testing.assert_array_equal(init((3, 3)), init((3, 3)))
    gn.set_seed(1)
    a = gn.initializers.get("he_normal")((3, 3))
    gn.set_seed(1)
    b = gn.initializers.get("he_normal")((3, 3))
    np.testing.assert_array_equal(a, b)
    assert a.dtype == np.float32


def test_unknown_initializer_lists_names():
    with pytest.raises(gn.UnknownNameError, match="glorot_uniform"):
        gn.initializers.get("glorot")


@pytest.mark.parametrize("shape", [(6, 6), (4, 12), (12, 4), (2, 3, 8)])
def test_orthogonal_gives_orthonormal_rows_or_columns_seeded(shape):
    w = gn.initializers.get({"class_name": "Orthogonal", "config": {"gain": 2.0, "seed": 7}})(shape, "float64")
    assert w.shape == shape and w.flags["C_CONTIGUOUS"]
    flat = w.reshape(-1, shape[-1]) / 2.0  # Keras flattens to (prod(shape[:-1]), shape[-1])
    small = min(flat.shape)
    gram = flat.T @ flat if flat.shape[0] >= flat.shape[1] else flat @ flat.T
    np.testing.assert_allclose(gram, np.eye(small), atol=1e-12)
    np.testing.assert_array_equal(w, gn.initializers.Orthogonal(gain=2.0, seed=7)(shape, "float64"))
    assert not np.array_equal(w, gn.initializers.Orthogonal(gain=2.0, seed=8)(shape, "float64"))
    with pytest.raises(ValueError, match="at least 2 axes"):
        gn.initializers.get("orthogonal")((5,))


def test_uniform_is_keras_random_uniform():
    w = gn.initializers.get("uniform")((200, 50), "float64")
    assert -0.05 <= w.min() < -0.049 and 0.049 < w.max() <= 0.05
