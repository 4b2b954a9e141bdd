"""Datasets as NumPy arrays: the bundled 8x8 digits and seeded synthetic sets.

Every ``make_*`` takes ``n_samples``, ``noise`` and ``seed`` and returns ``(x, y)``; the classification
sets have 2-D inputs ``x (n, 2)`` float64 and integer labels ``y (n,)`` int64, so a decision boundary
can be drawn. File loaders (``load_idx``, ``load_csv``) live in ``glassnet.data_files`` and are
re-exported here.

    make_xor        four noisy corners of the unit square, label = x0 xor x1 (not linearly separable)
    make_moons      two interleaved half circles
    make_circles    a small circle inside a large one
    make_spirals    ``n_classes`` interleaved spiral arms
    make_blobs      Gaussian blobs; with two centers always linearly separable
    make_regression y = x w + b + noise, with a fraction of gross outliers (for MSE vs MAE vs Huber)
    make_ring       ``n_modes`` Gaussians on a circle (the GAN mode-collapse test), label = mode
"""

from __future__ import annotations

from collections.abc import Callable
from importlib import resources

import numpy as np

from .._typing import Array
from ..errors import ConfigError
from .files import load_csv, load_idx, load_npz, read_idx


def load_digits() -> tuple[Array, Array]:
    """The UCI optical handwritten digits: x (1797, 8, 8) uint8 in 0..16, y (1797,) int64 labels 0..9.

    Source: scikit-learn's copy of the test part of the UCI "Optical Recognition of Handwritten Digits"
    set (Alpaydin and Kaynak, 1998; CC BY 4.0).
    """
    with (
        resources.files("glassnet.datasets").joinpath("data/digits.npz").open("rb") as handle,
        np.load(handle) as data,
    ):
        return data["x"].copy(), data["y"].astype(np.int64)


def _check(name: str, n_samples: int, noise: float, minimum: int = 1) -> None:
    if isinstance(n_samples, bool) or not isinstance(n_samples, (int, np.integer)) or n_samples < minimum:
        raise ConfigError(f"{name}: n_samples must be an integer >= {minimum}, got {n_samples!r}")
    if not (isinstance(noise, (int, float, np.floating)) and noise >= 0):
        raise ConfigError(f"{name}: noise must be a number >= 0, got {noise!r}")


def _balanced_labels(n_samples: int, n_classes: int, rng: np.random.Generator) -> Array:
    """Labels 0..n_classes-1 in equal shares (the first ``n % k`` classes get one more), shuffled."""
    return rng.permutation(np.arange(n_samples) % n_classes).astype(np.int64)


def make_xor(n_samples: int = 200, noise: float = 0.1, seed: int | None = None) -> tuple[Array, Array]:
    """Corners c of {0, 1}^2 in equal shares plus N(0, noise^2) jitter; y = c0 xor c1.

    ``make_xor(4, noise=0.0)`` is the truth table itself (in shuffled order).
    """
    _check("make_xor", n_samples, noise)
    rng = np.random.default_rng(seed)
    corner_index = _balanced_labels(n_samples, 4, rng)
    corners = np.stack([corner_index // 2, corner_index % 2], axis=1).astype(np.float64)
    x = corners + rng.normal(scale=noise, size=corners.shape) if noise else corners
    y = (corners[:, 0] != corners[:, 1]).astype(np.int64)
    return x, y


def make_moons(n_samples: int = 200, noise: float = 0.1, seed: int | None = None) -> tuple[Array, Array]:
    """Upper half circle (cos t, sin t) as class 0, lower one (1 - cos t, 0.5 - sin t) as class 1."""
    _check("make_moons", n_samples, noise)
    rng = np.random.default_rng(seed)
    y = _balanced_labels(n_samples, 2, rng)
    t = rng.uniform(0.0, np.pi, size=n_samples)
    upper = np.stack([np.cos(t), np.sin(t)], axis=1)
    lower = np.stack([1.0 - np.cos(t), 0.5 - np.sin(t)], axis=1)
    x = np.where(y[:, None] == 0, upper, lower)
    return x + rng.normal(scale=noise, size=x.shape), y


def make_circles(
    n_samples: int = 200, noise: float = 0.05, factor: float = 0.5, seed: int | None = None
) -> tuple[Array, Array]:
    """Class 0 on the unit circle, class 1 on a circle of radius ``factor`` (0 < factor < 1), plus noise."""
    _check("make_circles", n_samples, noise)
    if not 0.0 < factor < 1.0:
        raise ConfigError(f"make_circles: factor must be in (0, 1), got {factor!r}")
    rng = np.random.default_rng(seed)
    y = _balanced_labels(n_samples, 2, rng)
    t = rng.uniform(0.0, 2.0 * np.pi, size=n_samples)
    radius = np.where(y == 0, 1.0, float(factor))
    x = np.stack([radius * np.cos(t), radius * np.sin(t)], axis=1)
    return x + rng.normal(scale=noise, size=x.shape), y


def make_spirals(
    n_samples: int = 300, noise: float = 0.2, n_classes: int = 3, seed: int | None = None
) -> tuple[Array, Array]:
    """Arm k: radius r in [0, 1], angle 4 r + 2 pi k / n_classes + N(0, noise^2); x = r (sin a, cos a)."""
    _check("make_spirals", n_samples, noise)
    if isinstance(n_classes, bool) or not isinstance(n_classes, (int, np.integer)) or n_classes < 2:
        raise ConfigError(f"make_spirals: n_classes must be an integer >= 2, got {n_classes!r}")
    rng = np.random.default_rng(seed)
    y = _balanced_labels(n_samples, n_classes, rng)
    r = rng.uniform(0.0, 1.0, size=n_samples)
    angle = 4.0 * r + 2.0 * np.pi * y / n_classes + rng.normal(scale=noise, size=n_samples)
    return np.stack([r * np.sin(angle), r * np.cos(angle)], axis=1), y


def make_blobs(
    n_samples: int = 200, noise: float = 0.5, centers: int = 2, radius: float = 3.0, seed: int | None = None
) -> tuple[Array, Array]:
    """Isotropic Gaussian blobs (std ``noise``) around ``centers`` points spaced on a circle of ``radius``.

    With two centers each point's jitter towards the other center is clipped to 0.9 ``radius``, so a
    gap of 0.2 ``radius`` always separates the classes (the perceptron's convergence case); with more
    centers, or far from that gap, the blobs are plain Gaussians.
    """
    _check("make_blobs", n_samples, noise)
    if isinstance(centers, bool) or not isinstance(centers, (int, np.integer)) or centers < 2:
        raise ConfigError(f"make_blobs: centers must be an integer >= 2, got {centers!r}")
    if not (isinstance(radius, (int, float)) and radius > 0):
        raise ConfigError(f"make_blobs: radius must be a number > 0, got {radius!r}")
    rng = np.random.default_rng(seed)
    y = _balanced_labels(n_samples, centers, rng)
    offset = rng.uniform(0.0, 2.0 * np.pi)
    angles = offset + 2.0 * np.pi * np.arange(centers) / centers
    means = radius * np.stack([np.cos(angles), np.sin(angles)], axis=1)
    jitter = rng.normal(scale=noise, size=(n_samples, 2))
    if centers == 2:
        axis = (means[1] - means[0]) / np.linalg.norm(means[1] - means[0])  # from center 0 to center 1
        along = jitter @ axis
        limit = 0.9 * radius
        clipped = np.where(y == 0, np.minimum(along, limit), np.maximum(along, -limit))
        jitter += np.outer(clipped - along, axis)
    return means[y] + jitter, y


def make_regression(
    n_samples: int = 200,
    noise: float = 0.1,
    n_features: int = 1,
    outliers: float = 0.0,
    seed: int | None = None,
) -> tuple[Array, Array]:
    """x ~ U(-1, 1)^d, y = x w + b + N(0, noise^2), w ~ N(0, 1), b ~ N(0, 1); y (n,) float64.

    A fraction ``outliers`` of the targets (chosen at random) is shifted by +-(5 + U(0, 5)) times the
    clean targets' standard deviation: MSE chases them, MAE and Huber largely ignore them.
    """
    _check("make_regression", n_samples, noise)
    if not 0.0 <= outliers < 1.0:
        raise ConfigError(f"make_regression: outliers must be a fraction in [0, 1), got {outliers!r}")
    if isinstance(n_features, bool) or not isinstance(n_features, (int, np.integer)) or n_features < 1:
        raise ConfigError(f"make_regression: n_features must be an integer >= 1, got {n_features!r}")
    rng = np.random.default_rng(seed)
    x = rng.uniform(-1.0, 1.0, size=(n_samples, n_features))
    w, b = rng.normal(size=n_features), float(rng.normal())
    y = x @ w + b + rng.normal(scale=noise, size=n_samples)
    n_out = int(round(outliers * n_samples))
    if n_out:
        index = rng.choice(n_samples, size=n_out, replace=False)
        scale = float(y.std()) or 1.0
        y[index] += rng.choice([-1.0, 1.0], size=n_out) * (5.0 + rng.uniform(0.0, 5.0, size=n_out)) * scale
    return x, y


def make_ring(n_samples: int = 20000, noise: float = 0.02, n_modes: int = 8, radius: float = 2.0,
              seed: int | None = None) -> tuple[Array, Array]:
    """x = radius (cos 2 pi m / k, sin 2 pi m / k) + N(0, noise^2 I) for modes m in equal shares; y = m.

    With the defaults, the 8 Gaussians of std 0.02 on a circle of radius 2 that GAN papers test mode
    collapse on (Metz et al., 2017).
    """
    _check("make_ring", n_samples, noise)
    if isinstance(n_modes, bool) or not isinstance(n_modes, (int, np.integer)) or n_modes < 1:
        raise ConfigError(f"make_ring: n_modes must be an integer >= 1, got {n_modes!r}")
    rng = np.random.default_rng(seed)
    y = _balanced_labels(n_samples, n_modes, rng)
    angle = 2 * np.pi * y / n_modes
    x = float(radius) * np.stack([np.cos(angle), np.sin(angle)], axis=1) + rng.normal(scale=noise, size=(n_samples, 2))
    return x, y


SYNTHETIC: dict[str, Callable[..., tuple[Array, Array]]] = {
    "xor": make_xor,
    "moons": make_moons,
    "circles": make_circles,
    "spirals": make_spirals,
    "blobs": make_blobs,
    "regression": make_regression,
    "ring": make_ring,
}

__all__ = [
    "load_csv",
    "load_digits",
    "load_idx",
    "load_npz",
    "make_blobs",
    "make_circles",
    "make_moons",
    "make_regression",
    "make_ring",
    "make_spirals",
    "make_xor",
    "read_idx",
]
