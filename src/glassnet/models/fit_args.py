"""The checks ``fit``, ``evaluate`` and ``predict`` run on their arguments before any weight changes.

Each bad argument is refused with a ``ConfigError`` (or a ``LabelError`` for targets) that names the
argument, the value received and a hint; the catalogue of inputs and messages is in
docs/reliability.md. Everything here runs once per call, never per batch.

Also here: per-sample weights from ``sample_weight`` and ``class_weight`` (Keras semantics, see
``sample_weights``) and ``unbuild``, which returns a model that a failed first ``fit`` built to its
unbuilt state.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .._typing import Array
from ..errors import ConfigError, LabelError, ShapeError


def _is_int(value: Any) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))


def check_has_layers(model: Any) -> None:
    """Refuse a model without layers (``Sequential([])``): it has nothing to train or compute."""
    if not getattr(model, "layers", True):
        raise ConfigError(f"model {model.name!r} has no layers, so there is nothing to train or compute; hint: "
                          "Sequential([Input(shape=...), Dense(...), ...]) or model.add(layer)")


def check_verbose(verbose: Any, where: str = "fit") -> int:
    """0, 1 or 2 from ``verbose`` in {0, 1, 2, "auto", False, True}; "auto" is 1, as in Keras."""
    if isinstance(verbose, str) and verbose == "auto":
        return 1
    if isinstance(verbose, (bool, np.bool_)):
        return int(verbose)
    if _is_int(verbose) and 0 <= verbose <= 2:
        return int(verbose)
    raise ConfigError(f"{where}: verbose must be 0 (silent), 1 (progress bar), 2 (one line per epoch) or 'auto', "
                      f"got {verbose!r}")


def check_fit_arguments(epochs: Any, initial_epoch: Any, seed: Any, shuffle: Any,
                        steps_per_epoch: Any = None) -> None:
    """Refuse an ``epochs``, ``initial_epoch``, ``seed``, ``shuffle`` or ``steps_per_epoch`` of the wrong
    type or range."""
    if not _is_int(epochs) or epochs < 0:
        raise ConfigError(f"fit: epochs must be a non-negative integer, got {epochs!r}; hint: epochs=10")
    if not _is_int(initial_epoch) or not 0 <= initial_epoch <= epochs:
        raise ConfigError(f"fit: initial_epoch must be an integer in [0, epochs={epochs}], got {initial_epoch!r}; "
                          "hint: it is the number of epochs already done, so the run trains epochs - initial_epoch")
    if seed is not None and not isinstance(seed, np.random.Generator) and (not _is_int(seed) or seed < 0):
        raise ConfigError(f"fit: seed must be None, a non-negative integer or a np.random.Generator, got {seed!r}")
    if not isinstance(shuffle, (bool, np.bool_)):
        raise ConfigError(f"fit: shuffle must be True or False, got {shuffle!r}")
    if steps_per_epoch is not None and (not _is_int(steps_per_epoch) or steps_per_epoch <= 0):
        raise ConfigError(f"fit: steps_per_epoch must be None or a positive integer, got {steps_per_epoch!r}")


def callback_list(callbacks: Any) -> list[Any]:
    """``callbacks`` as a list: None -> [], one callback -> [it] (as Keras 3 flattens it)."""
    from ..callbacks import Callback

    if callbacks is None:
        return []
    if isinstance(callbacks, Callback):
        return [callbacks]
    if not isinstance(callbacks, (list, tuple)):
        raise ConfigError(f"fit: callbacks must be a list of gn.callbacks.Callback, got {type(callbacks).__name__}")
    return list(callbacks)


_KINDS = {"c": "complex", "M": "datetime", "m": "timedelta", "U": "string", "S": "bytes", "V": "structured"}


def check_numeric(name: str, array: Array) -> Array:
    """Refuse what is not real numbers (complex, datetime, strings, ...); an object array is converted to
    float64 if every element is a number. Booleans and integers pass."""
    kind = array.dtype.kind
    if kind in "biuf":
        return array
    if kind == "O":
        try:
            return array.astype(np.float64)
        except (TypeError, ValueError):
            found = next((type(v).__name__ for v in array.reshape(-1)
                          if not isinstance(v, (int, float, np.number))), "object")
            raise ConfigError(f"{name} holds Python objects that are not numbers (a {found}); hint: convert "
                              "the columns to numbers first (one-hot encode categories)") from None
    what = _KINDS.get(kind, str(array.dtype))
    hint = {"complex": "split real and imaginary parts into two features", "datetime":
            "convert dates to numbers, e.g. days since a reference date", "timedelta": "convert to seconds"}.get(
        what, "encode text labels as integers, e.g. np.unique(y, return_inverse=True)[1]")
    raise ConfigError(f"{name} must hold real numbers, got {what} values (dtype {array.dtype}); hint: {hint}")


def sample_weights(y: Any, sample_weight: Any, class_weight: Any, n: int, dtype: Any, loss: Any = None) -> Array | None:
    """Per-sample weights w (n,) of ``dtype``, or None when neither argument is given.

    Keras semantics: ``class_weight[c]`` weighs every sample of class c (the class is the integer label, or
    the argmax of a one-hot row, or the 0/1 label of a single sigmoid output); with ``sample_weight`` too,
    the two multiply. The loss then is sum_i w_i l_i / N over a batch of N (Keras' "sum_over_batch_size").
    """
    if sample_weight is None and class_weight is None:
        return None
    w = np.ones(n, dtype=dtype)
    if sample_weight is not None:
        sw = check_numeric("sample_weight", np.asarray(sample_weight))
        if sw.ndim != 1 or len(sw) != n:
            raise ShapeError(f"fit: sample_weight must have shape ({n},), one weight per sample, got {sw.shape}")
        if not np.isfinite(sw).all() or (sw < 0).any():
            raise ConfigError("fit: sample_weight must be finite and non-negative; hint: a weight of 0 drops a sample")
        w *= sw.astype(dtype, copy=False)
    if class_weight is not None:
        w *= _class_weights(y, class_weight, dtype, getattr(loss, "name", "") == "sparse_categorical_crossentropy")
    return w


def _class_weights(y: Any, class_weight: Any, dtype: Any, sparse: bool) -> Array:
    if isinstance(y, list):
        raise ConfigError("fit: class_weight is for a model with one output; hint: pass sample_weight instead")
    if not isinstance(class_weight, dict) or not class_weight:
        raise ConfigError(f"fit: class_weight must be a dict {{class index: weight}}, got {class_weight!r}")
    y = np.asarray(y)
    labels = y.argmax(axis=-1) if not sparse and y.ndim > 1 and y.shape[-1] > 1 else y
    if labels.size != len(y):
        raise ConfigError(f"fit: class_weight needs one class per sample, but the targets have shape {y.shape}; "
                          "hint: pass per-sample weights with sample_weight")
    labels = np.rint(labels.reshape(len(y))).astype(np.int64)
    top = int(max(max(class_weight), labels.max(initial=0))) + 1
    table = np.ones(top, dtype=np.float64)
    for key, weight in class_weight.items():
        if not _is_int(key) or key < 0:
            raise ConfigError(f"fit: class_weight keys must be class indices (integers >= 0), got {key!r}")
        table[int(key)] = float(weight)
    if labels.min(initial=0) < 0:
        raise LabelError(f"fit: class_weight needs class labels >= 0, got {int(labels.min())}")
    return table[labels].astype(dtype)


def unbuild(model: Any) -> None:
    """Return ``model`` and every layer in it to the unbuilt state (parameters dropped), so a model whose
    first ``fit`` failed before training is rebuilt by the next call from that call's data."""
    layers = [model]
    k = 0
    while k < len(layers):
        layers += list(getattr(layers[k], "layers", []))
        k += 1
    for layer in layers:
        layer.built, layer.input_shape, layer.output_shape, layer.cache = False, None, None, {}
        layer._params, layer._learnable = {}, []
    model._pack = None
