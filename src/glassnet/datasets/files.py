"""Data from files: MNIST-format IDX (raw or gzip) and CSV with a header row.

IDX layout (LeCun's MNIST page): a big-endian header ``0x00 0x00 <type> <ndim>``, then ``ndim``
big-endian uint32 sizes, then the values in C order. MNIST images are type 0x08 (uint8) with
3 dimensions (magic 2051), labels type 0x08 with 1 dimension (magic 2049).
"""

from __future__ import annotations

import csv
import gzip
import os
from pathlib import Path
from typing import Any

import numpy as np

from .._typing import Array
from ..errors import ConfigError

# IDX type byte -> big-endian dtype
_IDX_TYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def _read_bytes(path: str | os.PathLike[str]) -> bytes:
    try:
        raw = Path(path).read_bytes()
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror or exc}") from None
    if raw[:2] == b"\x1f\x8b":  # gzip magic
        try:
            return gzip.decompress(raw)
        except (OSError, EOFError) as exc:
            raise ConfigError(f"{path}: looks gzip-compressed but cannot be decompressed ({exc})") from None
    return raw


def read_idx(path: str | os.PathLike[str], ndim: int | None = None) -> Array:
    """One IDX file (raw or gzip) as an array of its stored type and shape; validates header and size."""
    data = _read_bytes(path)
    if len(data) < 4 or data[0] != 0 or data[1] != 0 or data[2] not in _IDX_TYPES:
        raise ConfigError(
            f"{path}: not an IDX file (magic bytes {data[:4].hex() or 'missing'}; expected 0000 then a type "
            f"byte in {sorted(hex(t) for t in _IDX_TYPES)} and the number of dimensions); hint: pass the "
            "MNIST files such as train-images-idx3-ubyte.gz"
        )
    dims = data[3]
    if ndim is not None and dims != ndim:
        kind = {3: "images (magic 2051)", 1: "labels (magic 2049)"}.get(ndim, f"{ndim}-D data")
        raise ConfigError(
            f"{path}: expected IDX {kind} with {ndim} dimension(s), got {dims} "
            f"(magic {int.from_bytes(data[:4], 'big')}); hint: images and labels swapped?"
        )
    header = 4 + 4 * dims
    if len(data) < header:
        raise ConfigError(f"{path}: truncated IDX header ({len(data)} bytes, need {header})")
    shape = tuple(int(s) for s in np.frombuffer(data, dtype=">u4", count=dims, offset=4))
    dtype = np.dtype(_IDX_TYPES[data[2]])
    expected = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    if len(data) - header != expected:
        raise ConfigError(
            f"{path}: header says shape {shape} ({expected} bytes of data) but the file holds "
            f"{len(data) - header} bytes; the file is truncated or corrupt"
        )
    array = np.frombuffer(data, dtype=dtype, offset=header).reshape(shape)
    return array.astype(dtype.newbyteorder("="))  # native byte order, and a writable copy


def load_idx(images_path: str | os.PathLike[str], labels_path: str | os.PathLike[str]) -> tuple[Array, Array]:
    """MNIST-format files -> images (N, rows, cols) as stored (uint8 for MNIST), labels (N,) int64.

    No scaling: divide by 255 (or use a scaler) yourself.
    """
    images = read_idx(images_path, ndim=3)
    labels = read_idx(labels_path, ndim=1)
    if not np.issubdtype(labels.dtype, np.integer):
        raise ConfigError(f"{labels_path}: labels must be integers, got IDX type {labels.dtype}")
    if len(images) != len(labels):
        raise ConfigError(
            f"{images_path} holds {len(images)} images but {labels_path} holds {len(labels)} "
            "labels; they must match (hint: train and test files mixed up?)"
        )
    return images, labels.astype(np.int64)


NPZ_KEYS = ("x_train", "y_train", "x_test", "y_test")


def load_npz(path: str | os.PathLike[str]) -> tuple[Array, Array, Array, Array]:
    """An ``.npz`` holding ``x_train, y_train, x_test, y_test`` (the layout of Keras' ``mnist.npz`` and
    of the shared MNIST, Fashion-MNIST and MNIST-1D files) -> those four arrays; integer labels become
    int64. Read with ``allow_pickle=False``: a file cannot run code."""
    try:
        with np.load(path, allow_pickle=False) as data:
            missing = [k for k in NPZ_KEYS if k not in data.files]
            if missing:
                raise ConfigError(f"{path}: missing array(s) {missing}; an npz data file holds {list(NPZ_KEYS)}, "
                                  f"this one holds {sorted(data.files)}")
            x, y, x_test, y_test = (data[k] for k in NPZ_KEYS)
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such file") from None
    except (OSError, ValueError) as exc:
        raise ConfigError(f"{path}: not a readable .npz file ({exc})") from None
    for name, (a, b) in {"train": (x, y), "test": (x_test, y_test)}.items():
        if len(a) != len(b):
            raise ConfigError(f"{path}: x_{name} has {len(a)} samples but y_{name} has {len(b)}")
    if np.issubdtype(y.dtype, np.integer):
        y, y_test = y.astype(np.int64), y_test.astype(np.int64)
    return x, y, x_test, y_test


def _numeric(column: Array, name: str, path: Any) -> Array:
    try:
        return column.astype(np.float64)
    except ValueError:
        bad = next(i for i, v in enumerate(column) if not _is_number(v))
        raise ConfigError(
            f"{path}: column {name!r} must be numeric, got {str(column[bad])!r} in data row {bad + 1}; "
            "hint: encode categories as numbers first"
        ) from None


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _encode_target(column: Array) -> Array:
    """Whole numbers stay numbers (int64 if integral); text labels become codes 0..k-1 in sorted order."""
    if all(_is_number(v) for v in column):
        values = column.astype(np.float64)
        return values.astype(np.int64) if np.all(values == np.round(values)) else values
    _, codes = np.unique(column, return_inverse=True)
    return codes.astype(np.int64)


def load_csv(
    path: str | os.PathLike[str], target: str | int | None = -1, delimiter: str = ","
) -> tuple[Array, Array | None]:
    """A CSV with a header row -> x (n, d) float64 and y (n,) from column ``target`` (name or index).

    ``target=None`` returns every column as ``x`` and ``y = None`` (inputs to predict on). Integral
    targets come back as int64 (class labels), other numbers as float64, text as codes 0..k-1.
    """
    try:
        with open(path, newline="") as handle:
            rows = [row for row in csv.reader(handle, delimiter=delimiter) if row]
    except OSError as exc:
        raise ConfigError(f"cannot read CSV {path}: {exc.strerror or exc}") from None
    if len(rows) < 2:
        raise ConfigError(f"{path}: a CSV needs a header row and at least one data row, got {len(rows)} row(s)")
    header = [h.strip() for h in rows[0]]
    widths = {len(r) for r in rows}
    if len(widths) != 1:
        bad = next(i for i, r in enumerate(rows) if len(r) != len(header))
        raise ConfigError(f"{path}: row {bad} has {len(rows[bad])} fields but the header has {len(header)}")
    table = np.array(rows[1:], dtype=str)
    if target is None:
        return _numeric(table, "features", path), None
    if isinstance(target, str):
        if target not in header:
            raise ConfigError(f"{path}: target column {target!r} not found; columns: {', '.join(header)}")
        index = header.index(target)
    else:
        if not -len(header) <= int(target) < len(header):
            raise ConfigError(f"{path}: target index {target} out of range for {len(header)} columns")
        index = int(target) % len(header)
    features = [i for i in range(len(header)) if i != index]
    x = np.stack([_numeric(table[:, i], header[i], path) for i in features], axis=1)
    return x, _encode_target(table[:, index])


def csv_header(path: str | os.PathLike[str], delimiter: str = ",") -> list[str]:
    """The column names of a CSV file."""
    with open(path, newline="") as handle:
        return [h.strip() for h in next(csv.reader(handle, delimiter=delimiter), [])]
