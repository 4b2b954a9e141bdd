"""The ``[data]`` and ``[preprocessing]`` tables: which arrays to train on and how to scale them.

[data]           name = "digits" | "xor" | "moons" | "circles" | "spirals" | "blobs" | "regression"
                         | "ring" | "csv" (path, target, delimiter) | "idx" (train_images, train_labels,
                         optional test_images, test_labels) | "npz" (path of an .npz with x_train,
                         y_train, x_test, y_test: MNIST, Fashion-MNIST, MNIST-1D)
                         | "text" | "sort" (token sequences, their own keys: app/sequence_data.py);
                 synthetic sets take their ``make_*`` arguments (n_samples, noise, ...);
                 test_size (0.2, ignored when test files are given), limit (max samples per split),
                 task ("classification" or "regression"; inferred from the targets),
                 flatten (each sample as one feature vector; default: yes, unless the first layer
                 declares an ``input_rank``: a Conv2D gets images (h, w, 1), a recurrent layer rows as
                 time steps (h, w)), shape (each sample reshaped to this; filled in when resolved)
[preprocessing]  rescale (x *= rescale first; 1/16 for digits, 1/255 for uint8 IDX images, else 1),
                 scaler = "none" or a scaler of ``glassnet.preprocessing`` ("standard", "min_max", ...)
"""

from __future__ import annotations

import inspect
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .. import datasets
from .._typing import Array
from ..errors import ConfigError, UnknownNameError
from ..preprocessing import SCALERS
from .config import DATA_NAMES, check_keys, number

COMMON_KEYS = ("name", "test_size", "limit", "task", "seed", "flatten", "shape")
SOURCE_KEYS = {
    "digits": (),
    "csv": ("path", "target", "delimiter"),
    "idx": ("train_images", "train_labels", "test_images", "test_labels"),
    "npz": ("path",),
}


@dataclass
class PreparedData:
    """Train and test arrays after preprocessing, and what the model and plots need to know about them."""

    x_train: Array
    y_train: Array
    x_test: Array
    y_test: Array
    task: str
    n_classes: int | None
    transform: Callable[[Array], Array] = field(repr=False)

    @property
    def input_shape(self) -> tuple[int, ...]:
        return tuple(self.x_train.shape[1:])

    @property
    def n_outputs(self) -> int:
        return (
            self.n_classes if self.n_classes is not None else (1 if self.y_train.ndim == 1 else self.y_train.shape[1])
        )


def _source_keys(name: str) -> tuple[str, ...]:
    if name in datasets.SYNTHETIC:
        params = inspect.signature(datasets.SYNTHETIC[name]).parameters
        return tuple(p for p in params if p != "seed")
    return SOURCE_KEYS[name]


def resolve_data_table(table: dict[str, Any], seed: int) -> dict[str, Any]:
    """[data] with its defaults filled in, every key checked."""
    table = {"name": "digits", **table}
    name = table["name"]
    if name not in DATA_NAMES:
        raise ConfigError(f"data.name: unknown data set {json.dumps(name)}; valid: {', '.join(DATA_NAMES)}")
    if name in ("text", "sort"):  # token sequences: their own keys (app/sequence_data.py)
        from .sequence_data import resolve_table

        return resolve_table(table, seed)
    check_keys(table, COMMON_KEYS + _source_keys(name), f"data (name = {name!r})")
    table.setdefault("seed", seed)
    table.setdefault("test_size", 0.2)
    number(table, "test_size", "data", 0.0, 1.0)
    number(table, "seed", "data", 0, integer=True)
    if "limit" in table:
        number(table, "limit", "data", 1, integer=True)
    if "flatten" in table and not isinstance(table["flatten"], bool):
        raise ConfigError(f"data.flatten must be true or false, got {table['flatten']!r}")
    shape = table.get("shape", [1])
    if not (isinstance(shape, list) and shape and all(isinstance(s, int) and s > 0 for s in shape)):
        raise ConfigError(f"data.shape must be a list of positive integers such as [28, 28, 1], got {table['shape']!r}")
    if table.get("task", "classification") not in ("classification", "regression"):
        raise ConfigError(f'data.task must be "classification" or "regression", got {table["task"]!r}')
    for key in {"csv": ("path",), "npz": ("path",), "idx": ("train_images", "train_labels")}.get(name, ()):
        if not isinstance(table.get(key), str):
            raise ConfigError(f"data.{key} is required for name = {name!r}: the path of the file")
    if name == "idx" and ("test_images" in table) != ("test_labels" in table):
        raise ConfigError("data: give both test_images and test_labels, or neither (then test_size splits)")
    if name == "csv":
        table.setdefault("target", -1)
        table.setdefault("delimiter", ",")
    return table


def _load_arrays(table: dict[str, Any]) -> tuple[Array, Array, Array | None, Array | None]:
    name = table["name"]
    if name == "digits":
        x, y = datasets.load_digits()
        return x, y, None, None
    if name == "csv":
        x, target = datasets.load_csv(table["path"], target=table["target"], delimiter=table["delimiter"])
        assert target is not None
        from ..datasets.files import csv_header
        from .csv_inputs import feature_columns, refuse_nonfinite

        columns = feature_columns(csv_header(table["path"], table["delimiter"]), table["target"])
        refuse_nonfinite(x, table["path"], columns, table["delimiter"])  # by line in the file, before shuffling
        return x, target, None, None
    if name == "idx":
        x, y = datasets.load_idx(table["train_images"], table["train_labels"])
        if "test_images" in table:
            return (x, y, *datasets.load_idx(table["test_images"], table["test_labels"]))
        return x, y, None, None
    if name == "npz":
        return datasets.load_npz(table["path"])
    kwargs = {k: v for k, v in table.items() if k in _source_keys(name)}
    try:
        x, y = datasets.SYNTHETIC[name](**kwargs, seed=table["seed"])
    except TypeError as exc:
        raise ConfigError(f"data (name = {name!r}): {exc}") from None
    return x, y, None, None


def _split(x: Array, y: Array, test_size: float, rng: np.random.Generator) -> tuple[Array, ...]:
    order = rng.permutation(len(x))
    n_test = int(round(test_size * len(x)))
    if test_size and not 0 < n_test < len(x):
        raise ConfigError(f"data.test_size = {test_size} leaves {n_test} of {len(x)} samples for testing")
    test, train = order[:n_test], order[n_test:]
    return x[train], y[train], x[test], y[test]


def load_split(table: dict[str, Any]) -> tuple[Array, Array, Array, Array]:
    """Train and test arrays for a resolved [data] table (seeded shuffle, then ``limit`` per split)."""
    x, y, given_x_test, given_y_test = _load_arrays(table)
    rng = np.random.default_rng(table["seed"])
    if given_x_test is None or given_y_test is None:
        x, y, x_test, y_test = _split(x, y, table["test_size"], rng)
    else:
        order = rng.permutation(len(x))
        x, y, x_test, y_test = x[order], y[order], given_x_test, given_y_test
    limit = table.get("limit")
    if limit:
        x, y, x_test, y_test = x[:limit], y[:limit], x_test[:limit], y_test[:limit]
    return x, y, x_test, y_test


def _task(table: dict[str, Any], y: Array) -> str:
    if "task" in table:
        return str(table["task"])
    return "classification" if np.issubdtype(y.dtype, np.integer) else "regression"


def make_scaler(spec: Any) -> Any:
    """A scaler object for ``preprocessing.scaler`` (a name or a table with ``name`` and arguments)."""
    table = dict(spec) if isinstance(spec, dict) else {"name": spec}
    name = table.pop("name", None)
    if name in (None, "none"):
        return None
    try:
        cls = SCALERS.lookup_class(name)
    except UnknownNameError:
        valid = ", ".join([*SCALERS.names(), "none"])
        raise ConfigError(f"preprocessing.scaler: unknown scaler {json.dumps(name)}; valid: {valid}") from None
    try:
        return cls(**table)
    except TypeError as exc:
        raise ConfigError(f"preprocessing.scaler ({name}): {exc}") from None


def resolve_preprocessing(table: dict[str, Any], data_table: dict[str, Any], x: Array) -> dict[str, Any]:
    default_rescale = {"digits": 1.0 / 16.0}.get(data_table["name"], 1.0)
    if data_table["name"] in ("idx", "npz") and x.dtype == np.uint8:
        default_rescale = 1.0 / 255.0
    table = {"rescale": default_rescale, "scaler": "none", **table}
    check_keys(table, ("rescale", "scaler"), "preprocessing")
    number(table, "rescale", "preprocessing", 0.0)
    if table["rescale"] == 0:
        raise ConfigError("preprocessing.rescale must be > 0, got 0")
    return table


def sample_shape(raw: tuple[int, ...], flatten: bool | None, input_rank: int | None) -> tuple[int, ...]:
    """The shape each sample is given: one feature vector when flattening (the default unless the first
    layer declares ``input_rank``), else the raw shape with trailing axes merged or a channel axis
    of 1 added until it has ``input_rank`` axes (images get one channel when no rank is declared)."""
    if flatten is None:
        flatten = input_rank is None
    if flatten:
        return (int(np.prod(raw)),)
    shape = tuple(int(s) for s in raw)
    rank = input_rank if input_rank is not None else (3 if len(shape) == 2 else len(shape))
    if len(shape) > rank:
        shape = shape[: rank - 1] + (int(np.prod(shape[rank - 1 :])),)
    return shape + (1,) * (rank - len(shape))


def make_transform(
    prep_table: dict[str, Any], dtype: str, fit_on: Array | None = None, shape: Any = None
) -> Callable[[Array], Array]:
    """x -> flatten to (n, features), cast to ``dtype``, multiply by ``rescale``, then the scaler, then
    each sample reshaped to ``shape`` (if given).

    The scaler is fitted on ``fit_on`` (the training inputs, per feature); without a scaler no data is needed.
    """
    target = None if shape is None else tuple(int(s) for s in shape)
    scaler = make_scaler(prep_table["scaler"])
    rescale = float(prep_table["rescale"])

    def flat(a: Array) -> Array:
        a = np.asarray(a).reshape(len(a), -1).astype(dtype)
        if rescale != 1.0:
            a *= rescale
        return a

    if scaler is not None:
        if fit_on is None:
            raise ConfigError("preprocessing.scaler needs the training data to be fitted on")
        scaler.fit(flat(fit_on))

    def transform(a: Array) -> Array:
        a = flat(a)
        a = np.asarray(scaler.transform(a), dtype=dtype) if scaler is not None else a
        if target is None:
            return a
        if int(np.prod(target)) != a.shape[1]:
            raise ConfigError(f"data.shape {list(target)} holds {int(np.prod(target))} values but each sample has "
                              f"{a.shape[1]}; hint: remove data.shape to let glassnet choose it")
        return a.reshape((len(a), *target))

    return transform


def training_rows(n: int, validation_split: float) -> int:
    """How many leading rows ``fit(validation_split=...)`` trains on: it validates on the last
    ``int(n * validation_split)`` (``models.training``'s cut, as in Keras)."""
    return n - int(n * validation_split)


def prepare(
    data_table: dict[str, Any],
    prep_table: dict[str, Any],
    dtype: str,
    validation_split: float = 0.0,
    input_rank: int | None = None,
) -> tuple[dict[str, Any], PreparedData]:
    """Load, split and preprocess the data; returns the resolved [preprocessing] table and the arrays.

    The scaler is fitted on the rows ``fit`` trains on: the training split minus the last
    ``validation_split`` fraction, so no statistic of the validation rows leaks into the inputs.
    ``data_table`` gets its ``shape`` filled in (see ``sample_shape``), so a run's config reproduces it.
    """
    if data_table["name"] in ("text", "sort"):
        from . import sequence_data

        return sequence_data.prepare(data_table, prep_table)
    x, y, x_test, y_test = load_split(data_table)
    prep_table = resolve_preprocessing(prep_table, data_table, x)
    if "shape" not in data_table:
        shape = sample_shape(x.shape[1:], data_table.get("flatten"), input_rank)
        if len(shape) > 1:
            data_table["shape"] = list(shape)
    fit_rows = x[: training_rows(len(x), validation_split)]
    transform = make_transform(prep_table, dtype, fit_rows, data_table.get("shape"))
    task = _task(data_table, y)
    n_classes = None
    if task == "classification":
        if not np.issubdtype(y.dtype, np.integer) or y.min() < 0:
            raise ConfigError(
                'data.task = "classification" needs integer labels 0..k-1; '
                f"got {y.dtype} values in [{y.min()}, {y.max()}]"
            )
        n_classes = int(max(y.max(), y_test.max() if len(y_test) else 0)) + 1
    else:
        y, y_test = y.astype(dtype), y_test.astype(dtype)
    return prep_table, PreparedData(transform(x), y, transform(x_test), y_test, task, n_classes, transform)


__all__ = [
    "PreparedData",
    "load_split",
    "make_scaler",
    "make_transform",
    "prepare",
    "sample_shape",
    "resolve_data_table",
    "training_rows",
]
