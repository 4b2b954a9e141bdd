"""Datasets as NumPy arrays. ``load_digits`` reads the 8x8 digits shipped inside the package."""

from __future__ import annotations

from importlib import resources

import numpy as np

from ._typing import Array


def load_digits() -> tuple[Array, Array]:
    """The UCI optical handwritten digits: x (1797, 8, 8) uint8 in 0..16, y (1797,) int64 labels 0..9.

    Source: scikit-learn's copy of the test part of the UCI "Optical Recognition of Handwritten Digits"
    set (Alpaydin and Kaynak, 1998; CC BY 4.0).
    """
    with resources.files("glassnet").joinpath("data/digits.npz").open("rb") as handle, np.load(handle) as data:
        return data["x"].copy(), data["y"].astype(np.int64)


__all__ = ["load_digits"]
