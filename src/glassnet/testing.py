"""The public layer contract harness: ``check_layer`` runs every promise a glassnet layer makes.

Modelled on Keras' ``run_layer_test`` and Chainer's ``check_backward``. One call checks, on small
random inputs drawn from a seeded generator:

==================  ==============================================================================
check               what must hold
==================  ==============================================================================
``gradient``        float64 ``backward`` equals central differences for every float input and every
                    trainable parameter, on the scalar L = sum_k sum(r_k * y_k) (a fixed random
                    projection r_k of each output y_k, so dL/dy_k = r_k); tensors of more than
                    ``max_entries`` values are checked along random directions d instead:
                    (L(t + eps d) - L(t - eps d)) / (2 eps) = <dL/dt, d>
``grad_output``     ``backward`` leaves its argument unchanged
``inference_cache`` ``forward(x, training=False)`` leaves ``layer.cache`` empty
``output_shape``    ``layer.output_shape`` (from ``compute_output_shape``) is the shape forward returns
``float32``         float32 inputs give float32 outputs, input gradients and parameter gradients
``batch_of_one``    one sample goes forward and backward; its inference output equals row 0 of the
                    batch's output
``config``          ``deserialize_layer(serialize_layer(layer))`` (the registry, through JSON) with the
                    weights copied gives the same outputs and the same config
``copy``            ``copy.deepcopy`` and ``pickle`` of the layer with its optimizer, taken after one
                    training step, train bit for bit like the original (SGD with momentum and Adam);
                    training the copy leaves the original unchanged
``sequential``      inside ``Sequential([Input(...), layer])``: same outputs and input gradient
``functional``      inside ``Model(inputs=..., outputs=layer(...))``: same outputs and input gradients
``model_copy``      a compiled model holding the layer, deep-copied and pickled after ``fit``, fits
                    bit for bit like the original
``save_load``       ``model.save`` then ``gn.load_model`` gives the same outputs
==================  ==============================================================================

A failure raises ``AssertionError`` listing every failed check: its name, the tensor, the largest
error and where it is, e.g. ``[gradient] parameter 'dense/kernel': relative error 1.0e-02 > 1e-06;
largest difference at index (2, 0): numeric 0.31, analytic 0.3131``.

Random layers (``Dropout``) are re-seeded with ``layer.reseed(np.random.default_rng(seed))`` before
every forward pass, so finite differences see the same mask as ``backward`` and copies draw the same
masks as the original. Integer-input layers pass ``input_dtype`` (and optionally ``input_generator``);
their input gradient is not checked. Several inputs: pass a list of shapes. A layer whose output is a
list gets one projection per output; the model checks need a single output and are skipped for it.
"""

from __future__ import annotations

import copy
import json
import pickle
import tempfile
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from . import backend, optimizers
from ._typing import Array
from .diagnostics.gradcheck import numeric_gradient, relative_error
from .layers import Input, Layer, deserialize_layer, serialize_layer
from .models import Model, Sequential
from .models.saving import load_model

CHECKS = (
    "gradient",
    "grad_output",
    "inference_cache",
    "output_shape",
    "float32",
    "batch_of_one",
    "config",
    "copy",
    "sequential",
    "functional",
    "model_copy",
    "save_load",
)
InputGenerator = Callable[[np.random.Generator, tuple[int, ...]], Array]


@dataclass
class _Case:
    """What ``check_layer`` was asked to check, normalized."""

    make_layer: Callable[[], Layer]
    shapes: list[tuple[int, ...]]
    several: bool
    seed: int
    batch: int
    generator: InputGenerator
    int_inputs: bool
    epsilon: float
    tolerance: float
    max_entries: int

    def layer(self, dtype: str) -> Layer:
        """A fresh, unbuilt layer whose parameters will have ``dtype``."""
        with floatx(dtype):
            layer = self.make_layer()
            layer.dtype = dtype
        return layer

    def inputs(self, dtype: str, batch: int | None = None, offset: int = 0) -> Any:
        """Random inputs (the same for the same ``offset``): one array, or a list for several inputs."""
        rng = np.random.default_rng([self.seed, offset])
        rows = self.batch if batch is None else batch
        xs = [np.asarray(self.generator(rng, (rows, *shape))) for shape in self.shapes]
        xs = [x if self.int_inputs else x.astype(dtype) for x in xs]
        return xs if self.several else xs[0]

    def reseed(self, layer: Layer, offset: int = 0) -> None:
        layer.reseed(np.random.default_rng([self.seed, 1000 + offset]))


def check_layer(
    layer: Layer | Callable[[], Layer],
    input_shape: tuple[int, ...] | list[tuple[int, ...]],
    *,
    seed: int = 0,
    batch: int = 3,
    input_generator: InputGenerator | None = None,
    input_dtype: Any = None,
    epsilon: float = 1e-6,
    tolerance: float = 1e-6,
    max_entries: int = 64,
    skip: Iterable[str] = (),
) -> None:
    """Run the layer contract (see the module docstring) and raise ``AssertionError`` on any failure.

    Args:
        layer: An unbuilt layer (copied for every check) or a function returning a new unbuilt layer.
        input_shape: The input shape without the batch axis, e.g. ``(4,)``; a list of shapes for a
            layer with several inputs, e.g. ``[(4,), (4,)]``.
        seed: Seeds every random choice (inputs, projections, directions, dropout masks).
        batch: Number of samples in the test inputs.
        input_generator: ``f(rng, shape) -> array`` for the inputs (shape with the batch axis); default
            standard normal values, or integers 0..4 for an integer ``input_dtype``.
        input_dtype: An integer dtype for layers that take integer inputs (e.g. indices); their input
            gradient is then not checked. ``None``: float inputs of the checked precision.
        epsilon: Finite-difference step (float64).
        tolerance: Largest accepted relative error ||numeric - analytic|| / (||numeric|| + ||analytic||).
        max_entries: Tensors with more values are checked along 3 random directions instead of entry by
            entry.
        skip: Names of checks not to run (see ``CHECKS``), for a contract a layer knowingly does not keep.
    """
    skipped = set(skip)
    unknown = skipped - set(CHECKS)
    if unknown:
        raise ValueError(f"check_layer: unknown check(s) {sorted(unknown)} in skip; valid: {', '.join(CHECKS)}")
    case = _make_case(layer, input_shape, seed, batch, input_generator, input_dtype, epsilon, tolerance, max_entries)
    name = type(case.layer("float64")).__name__
    failures: list[str] = []
    for check in CHECKS:
        if check in skipped:
            continue
        try:
            with backend.using_generator(np.random.default_rng([seed, 6])):  # seeded initial weights
                _RUNNERS[check](case)
        except _ContractError as exc:
            failures.append(f"[{check}] {exc}")
        except Exception as exc:  # noqa: BLE001 - any error inside a check is reported as that check's failure
            failures.append(f"[{check}] raised {type(exc).__name__}: {exc}")
    if failures:
        listing = "\n  ".join(failures)
        raise AssertionError(
            f"check_layer({name}): {len(failures)} of {len(CHECKS) - len(skipped)} checks failed:\n  {listing}"
        )


class _ContractError(Exception):
    """A broken promise, with the message to report."""


@contextmanager
def floatx(dtype: str) -> Iterator[None]:
    """Make ``dtype`` the default float type inside the block."""
    saved = backend.floatx()
    backend.set_floatx(dtype)
    try:
        yield
    finally:
        backend.set_floatx(saved)


def _make_case(
    layer: Any,
    input_shape: Any,
    seed: int,
    batch: int,
    input_generator: Any,
    input_dtype: Any,
    epsilon: float,
    tolerance: float,
    max_entries: int,
) -> _Case:
    if isinstance(layer, Layer):
        if layer.built:
            raise ValueError(
                f"check_layer: layer {layer.name!r} is already built; pass an unbuilt layer or a "
                "function returning one, e.g. lambda: Dense(3)"
            )
        pristine = copy.deepcopy(layer)

        def make_layer() -> Layer:
            return copy.deepcopy(pristine)
    elif callable(layer):
        make_layer = layer
    else:
        raise TypeError(f"check_layer: expected a Layer or a function returning one, got {type(layer).__name__}")
    several = isinstance(input_shape, list) and bool(input_shape) and isinstance(input_shape[0], (list, tuple))
    shapes = [tuple(int(s) for s in shape) for shape in (input_shape if several else [input_shape])]
    int_inputs = input_dtype is not None and np.issubdtype(np.dtype(input_dtype), np.integer)
    if input_generator is None:
        if int_inputs:

            def input_generator(rng: np.random.Generator, shape: tuple[int, ...]) -> Array:
                return rng.integers(0, 5, size=shape).astype(input_dtype)
        else:

            def input_generator(rng: np.random.Generator, shape: tuple[int, ...]) -> Array:
                return rng.normal(size=shape)

    return _Case(make_layer, shapes, several, seed, batch, input_generator, int_inputs, epsilon, tolerance, max_entries)


# -- helpers ---------------------------------------------------------------------------------------
def _as_list(value: Any) -> list[Any]:
    return list(value) if isinstance(value, (list, tuple)) else [value]


def _forward(case: _Case, layer: Layer, x: Any, training: bool, offset: int = 0) -> list[Array]:
    """The layer's outputs as a list (one entry for a single output), after re-seeding it."""
    case.reseed(layer, offset)
    return [np.asarray(y) for y in _as_list(layer.forward(x, training=training))]


def _projections(case: _Case, outputs: list[Array]) -> list[Array]:
    rng = np.random.default_rng([case.seed, 2])
    return [rng.normal(size=y.shape).astype(y.dtype) for y in outputs]


def _grad_arg(projections: list[Array], several_outputs: bool) -> Any:
    return [r.copy() for r in projections] if several_outputs else projections[0].copy()


def _where(numeric: Array, analytic: Array) -> str:
    diff = np.abs(numeric - analytic)
    k = np.unravel_index(int(np.argmax(diff)), diff.shape) if diff.ndim else ()
    at = tuple(int(i) for i in k)
    return f"largest difference at index {at}: numeric {numeric[k]:.6g}, analytic {analytic[k]:.6g}"


def _compare_exact(what: str, expected: list[Array], actual: list[Array], hint: str = "") -> None:
    """Bit-identical arrays, or a failure naming the array, the largest difference and where it is."""
    tail = f"; hint: {hint}" if hint else ""
    if len(expected) != len(actual):
        raise _ContractError(f"{what}: {len(actual)} arrays instead of {len(expected)}{tail}")
    for k, (a, b) in enumerate(zip(expected, actual)):
        a, b = np.asarray(a), np.asarray(b)
        label = f"{what} [array {k}]" if len(expected) > 1 else what
        if a.shape != b.shape:
            raise _ContractError(f"{label}: shape {b.shape} instead of {a.shape}{tail}")
        if not np.array_equal(a, b):
            diff = np.abs(a.astype(np.float64) - b.astype(np.float64))
            at = tuple(int(i) for i in np.unravel_index(int(np.argmax(diff)), diff.shape))
            raise _ContractError(f"{label}: not identical, max |difference| {diff.max():.3e} at index {at}{tail}")


def _single_output(case: _Case) -> bool:
    return len(_forward(case, _built(case, "float64"), case.inputs("float64"), False)) == 1


def _built(case: _Case, dtype: str, x: Any = None) -> Layer:
    layer = case.layer(dtype)
    with floatx(dtype):
        _forward(case, layer, case.inputs(dtype) if x is None else x, False)
    return layer


def _trainable_values(layer: Layer) -> list[Array]:
    return [p.value.copy() for p in layer.parameters(trainable_only=True)]


# -- the checks --------------------------------------------------------------------------------------
def _check_gradient(case: _Case) -> None:
    """float64 backward against central differences, input(s) and every trainable parameter."""
    with floatx("float64"):
        layer = case.layer("float64")
        x = case.inputs("float64")
        outputs = _forward(case, layer, x, True)
        for p in layer.parameters():
            if p.dtype != np.float64:
                raise _ContractError(
                    f"parameter {p.name!r} is {p.dtype} in a float64 layer; hint: create "
                    "parameters with dtype=self.dtype"
                )
        projections = _projections(case, outputs)

        def loss() -> float:
            ys = _forward(case, layer, x, True)
            return float(sum(np.sum(r * y, dtype=np.float64) for r, y in zip(projections, ys)))

        grads, analytic = _analytic(case, layer, x, projections)
        if not case.int_inputs:
            for k, (x_k, g_k) in enumerate(zip(_as_list(x) if case.several else [x], grads, strict=True)):
                what = f"input[{k}]" if case.several else "input"
                if g_k is None:
                    raise _ContractError(f"{what}: backward returned None instead of the input gradient")
                _check_tensor(case, what, x_k, g_k, loss)
        for p in layer.parameters(trainable_only=True):
            _check_tensor(case, f"parameter {p.name!r}", p.value, analytic[p.name], loss)


def _analytic(case: _Case, layer: Layer, x: Any, projections: list[Array]) -> tuple[list[Any], dict[str, Array]]:
    """Input gradients and parameter gradients of L = sum(r * y), from two identical forward/backward
    passes that must agree (a backward that adds to ``.grad`` instead of overwriting it does not)."""
    results = []
    for _ in range(2):
        outputs = _forward(case, layer, x, True)
        grads = layer.backward(_grad_arg(projections, len(outputs) > 1))
        grad_list = _as_list(grads) if case.several else [grads]
        inputs = [None if g is None else np.array(g, dtype=np.float64) for g in grad_list]
        results.append((inputs, {p.name: p.grad.copy() for p in layer.parameters(trainable_only=True)}))
    (inputs, params), (_, again) = results
    for name, grad in params.items():
        if not np.array_equal(grad, again[name], equal_nan=True):
            raise _ContractError(
                f"parameter {name!r}: two identical backward calls gave different gradients "
                f"(max difference {float(np.max(np.abs(grad - again[name]))):.3e}); hint: "
                "backward must overwrite .grad (grad[...] = ...), not add to it"
            )
    return inputs, params


def _check_tensor(case: _Case, what: str, array: Array, analytic: Array, loss: Callable[[], float]) -> None:
    """Entry by entry up to ``max_entries`` values, else along 3 random directions."""
    if analytic.shape != array.shape:
        raise _ContractError(f"{what}: gradient of shape {analytic.shape} for a tensor of shape {array.shape}")
    tol = case.tolerance
    if array.size <= case.max_entries:
        numeric = numeric_gradient(loss, array, case.epsilon)
        error = relative_error(numeric, analytic)
        if not (error <= tol or float(np.linalg.norm(np.ravel(numeric - analytic))) <= 1e-9):  # NaN fails
            raise _ContractError(f"{what}: relative error {error:.2e} > {tol:g}; {_where(numeric, analytic)}")
        return
    rng = np.random.default_rng([case.seed, 3, array.size])
    saved = array.copy()
    for j in range(3):
        d = rng.normal(size=array.shape)
        array[...] = saved + case.epsilon * d
        plus = loss()
        array[...] = saved - case.epsilon * d
        minus = loss()
        array[...] = saved
        numeric, expected = (plus - minus) / (2 * case.epsilon), float(np.vdot(analytic, d))
        error = abs(numeric - expected) / max(abs(numeric) + abs(expected), 1e-12)
        if not (error <= tol or abs(numeric - expected) <= 1e-9):  # NaN fails
            raise _ContractError(
                f"{what} ({array.size} values, checked along random directions): relative error "
                f"{error:.2e} > {tol:g} along direction {j}: numeric {numeric:.6g}, analytic {expected:.6g}"
            )


def _check_grad_output(case: _Case) -> None:
    """``backward`` must not write into the gradient it receives."""
    layer = _built(case, "float64")
    outputs = _forward(case, layer, case.inputs("float64"), True)
    projections = _projections(case, outputs)
    given = _grad_arg(projections, len(outputs) > 1)
    layer.backward(given)
    for k, (before, after) in enumerate(zip(projections, _as_list(given) if len(outputs) > 1 else [given])):
        if not np.array_equal(before, after):
            change = float(np.max(np.abs(after - before)))
            raise _ContractError(
                f"backward modified grad_output{f'[{k}]' if len(outputs) > 1 else ''} in place (max "
                f"change {change:.3e}); hint: write into a new array, e.g. np.multiply(g, m) "
                "instead of g *= m"
            )


def _check_inference_cache(case: _Case) -> None:
    layer = case.layer("float64")
    x = case.inputs("float64")
    for training_first in (False, True):
        if training_first:
            _forward(case, layer, x, True)
        _forward(case, layer, x, False)
        if layer.cache:
            raise _ContractError(
                f"layer.cache holds {sorted(layer.cache)} after forward(x, training=False)"
                f"{' (following a training pass)' if training_first else ''}; hint: cache only when "
                "training is True, so inference keeps no arrays alive"
            )


def _check_output_shape(case: _Case) -> None:
    """The declared output shape (what a model and ``summary`` use) is what ``forward`` returns.

    A layer with several outputs may declare the list of their shapes or the first one's shape."""
    layer = _built(case, "float64")
    shapes = [tuple(y.shape[1:]) for y in _forward(case, layer, case.inputs("float64"), False)]
    declared = layer.output_shape
    accepted: list[Any] = [shapes[0]] if len(shapes) == 1 else [shapes, shapes[0]]
    if declared and isinstance(declared[0], (list, tuple)):
        declared_shape: Any = [tuple(s) for s in declared]
    else:
        declared_shape = None if declared is None else tuple(declared)
    if declared_shape not in accepted:
        raise _ContractError(
            f"layer.output_shape is {declared} but forward returns outputs of shape (batch, ...) "
            f"= {shapes[0] if len(shapes) == 1 else shapes}; hint: override "
            "compute_output_shape(input_shape)"
        )


def _check_float32(case: _Case) -> None:
    """float32 in, float32 out: outputs, input gradients and parameter gradients."""
    with floatx("float32"):
        layer = case.layer("float32")
        x = case.inputs("float32")
        for training in (False, True):
            for k, y in enumerate(_forward(case, layer, x, training)):
                if y.dtype != np.float32:
                    raise _ContractError(
                        f"forward(training={training}) output[{k}] is {y.dtype} for float32 inputs; "
                        "hint: look for float64 constants or np.float64 scalars in the formula"
                    )
        outputs = _forward(case, layer, x, True)
        grads = layer.backward(_grad_arg(_projections(case, outputs), len(outputs) > 1))
        if not case.int_inputs:
            for k, g in enumerate(_as_list(grads) if case.several else [grads]):
                if g is not None and np.asarray(g).dtype != np.float32:
                    raise _ContractError(f"backward's input gradient [{k}] is {np.asarray(g).dtype}, not float32")
        for p in layer.parameters():
            if p.dtype != np.float32 or p.grad.dtype != np.float32:
                raise _ContractError(f"parameter {p.name!r}: value {p.dtype}, grad {p.grad.dtype} in a float32 layer")


def _check_batch_of_one(case: _Case) -> None:
    layer = _built(case, "float64")
    x = case.inputs("float64")
    one = [x_k[:1] for x_k in x] if case.several else x[:1]
    full, single = _forward(case, layer, x, False), _forward(case, layer, one, False)
    for k, (a, b) in enumerate(zip(full, single)):
        if b.shape[:1] != (1,) or not np.allclose(a[:1], b, rtol=1e-10, atol=1e-12):
            raise _ContractError(
                f"output[{k}] of a batch of one differs from row 0 of the batch's output (shape "
                f"{b.shape}); hint: no statistic over the batch axis at inference"
            )
    outputs = _forward(case, layer, one, True)
    grads = layer.backward(_grad_arg(_projections(case, outputs), len(outputs) > 1))
    if not case.int_inputs:
        for k, (g, x_k) in enumerate(zip(_as_list(grads) if case.several else [grads], one if case.several else [one])):
            if g is None or np.shape(g) != x_k.shape or not np.all(np.isfinite(g)):
                raise _ContractError(
                    f"backward on a batch of one gave input gradient [{k}] of shape {np.shape(g)} "
                    f"(expected {x_k.shape}) or non-finite values"
                )


def _check_config(case: _Case) -> None:
    """The registry rebuilds the layer from its JSON config; with the weights copied it computes the same."""
    with floatx("float64"):
        original = _built(case, "float64")
        try:
            config = json.loads(json.dumps(serialize_layer(original)))
        except TypeError as exc:
            raise _ContractError(
                f"get_config() is not JSON-serializable ({exc}); hint: return plain numbers, strings, "
                "lists and dicts (serialize objects with glassnet._registry.serialize)"
            ) from None
        try:
            rebuilt = deserialize_layer(config)
        except TypeError as exc:
            raise _ContractError(
                f"from_config(get_config()) raised TypeError: {exc}; hint: get_config must return "
                "every constructor argument"
            ) from None
        x = case.inputs("float64")
        _forward(case, rebuilt, x, False)
        rebuilt.set_weights(original.get_weights())
        again = json.loads(json.dumps(serialize_layer(rebuilt)))
        if again != config:
            changed = sorted(
                k
                for k in set(config["config"]) | set(again["config"])
                if config["config"].get(k) != again["config"].get(k)
            )
            raise _ContractError(
                f"the rebuilt layer's config differs in {changed}: {config['config']} vs {again['config']}"
            )
        for training in (False, True):
            _compare_exact(
                f"outputs (training={training}) of the layer rebuilt from its config vs the original",
                _forward(case, original, x, training),
                _forward(case, rebuilt, x, training),
                hint="get_config must return every constructor argument that changes the computation",
            )


def _pickled(obj: Any) -> Any:
    return pickle.loads(pickle.dumps(obj))


_COPIES: tuple[tuple[str, Callable[[Any], Any]], ...] = (("copy.deepcopy", copy.deepcopy), ("pickle", _pickled))


def _train(case: _Case, layer: Layer, optimizer: Any, x: Any, steps: int, offset: int) -> None:
    """``steps`` steps on L = sum(r * y): forward, backward(r), optimizer.step."""
    for s in range(steps):
        outputs = _forward(case, layer, x, True, offset + s)
        layer.backward(_grad_arg(_projections(case, outputs), len(outputs) > 1))
        optimizer.step(layer.parameters(trainable_only=True))


def _check_copy(case: _Case) -> None:
    """A copy (with its optimizer) taken after one step trains bit for bit like the original."""
    x = case.inputs("float64")
    for label, make_copy in _COPIES:
        for opt in (optimizers.SGD(learning_rate=0.05, momentum=0.9), optimizers.Adam(learning_rate=0.01)):
            layer = _built(case, "float64")
            _train(case, layer, opt, x, 1, 0)
            clone, clone_opt = make_copy((layer, opt))
            before, trainable = layer.get_weights(), _trainable_values(layer)
            _train(case, clone, clone_opt, x, 3, 1)
            where = f"{label} with {type(opt).__name__}"
            _compare_exact(
                f"{where}: the original's weights after training the copy",
                before,
                layer.get_weights(),
                hint="the copy shares arrays with the original",
            )
            copy_after = _trainable_values(clone)
            _train(case, layer, opt, x, 3, 1)
            _check_copy_trained(where, "3 training steps", trainable, copy_after, _trainable_values(layer))
            _compare_exact(
                f"{where}: weights of the copy vs the original after the same 3 steps",
                layer.get_weights(),
                clone.get_weights(),
            )


def _check_copy_trained(
    where: str, steps: str, start: list[Array], copy_after: list[Array], original_after: list[Array]
) -> None:
    """If the original's parameters moved, the copy's must have moved too (a copy whose optimizer updates
    arrays its layers no longer read does not train)."""

    def moved(after: list[Array]) -> bool:
        return not all(np.array_equal(a, b) for a, b in zip(start, after))

    if moved(original_after) and not moved(copy_after):
        raise _ContractError(
            f"{where}: the copy's parameters did not change in {steps}, the original's did (the "
            "copy does not train; hint: parameters must stay views of the model's pack)"
        )


def _applies_to_models(case: _Case) -> bool:
    """Model checks need one output (graph models have one output)."""
    return _single_output(case)


def _model_of(case: _Case, inner: Layer, sequential: bool) -> Model:
    with floatx("float64"):
        if sequential:
            return Sequential([Input(shape=case.shapes[0]), inner])
        inputs = [Input(shape=shape) for shape in case.shapes]
        output = inner(inputs if case.several else inputs[0])
        return Model(inputs=inputs if case.several else inputs[0], outputs=output)


def _check_in_model(case: _Case, sequential: bool) -> None:
    """Inside a model: the same outputs, input gradient(s) and parameter gradients as the bare layer."""
    if (sequential and case.several) or not _applies_to_models(case):
        return
    reference = _built(case, "float64")
    inner = case.layer("float64")
    model = _model_of(case, inner, sequential)
    inner.set_weights(reference.get_weights())
    x = case.inputs("float64")
    kind = "Sequential" if sequential else "Functional"
    _compare_exact(
        f"inference outputs in {kind} vs the bare layer",
        _forward(case, reference, x, False),
        [np.asarray(model.forward(x, training=False))],
    )
    expected_out = _forward(case, reference, x, True)
    case.reseed(inner)
    got_out = [np.asarray(model.forward(x, training=True))]
    _compare_exact(f"training outputs in {kind} vs the bare layer", expected_out, got_out)
    projection = _projections(case, expected_out)[0]
    expected = reference.backward(projection.copy())
    got = model.backward(projection.copy())
    if not case.int_inputs:
        _compare_exact(
            f"input gradient(s) from {kind}.backward vs the bare layer",
            _as_list(expected) if case.several else [expected],
            _as_list(got) if case.several else [got],
        )
    _compare_exact(
        f"parameter gradients in {kind} vs the bare layer",
        [p.grad for p in reference.parameters(True)],
        [p.grad for p in inner.parameters(True)],
    )


def _check_sequential(case: _Case) -> None:
    _check_in_model(case, sequential=True)


def _check_functional(case: _Case) -> None:
    _check_in_model(case, sequential=False)


def _fitted_model(case: _Case) -> tuple[Model, Any, Array]:
    """A compiled model holding the layer, trained one epoch on random data; returns it, x and y."""
    model = _model_of(case, case.layer("float64"), sequential=not case.several)
    model.compile(optimizer=optimizers.Adam(learning_rate=0.01), loss="mse")
    x = case.inputs("float64", batch=2 * case.batch)
    y = np.random.default_rng([case.seed, 4]).normal(size=(2 * case.batch, *model.output_shape))
    model.fit(x, y, epochs=1, batch_size=case.batch, verbose=0, seed=case.seed)
    return model, x, y


def _check_model_copy(case: _Case) -> None:
    """A fitted, compiled model holding the layer: its deep copy and its pickle fit bit for bit like it."""
    if not _applies_to_models(case):
        return
    model, x, y = _fitted_model(case)
    for label, make_copy in _COPIES:
        clone = make_copy(model)
        before, trainable = model.get_weights(), [p.value.copy() for p in model.parameters(trainable_only=True)]
        clone.fit(x, y, epochs=2, batch_size=case.batch, verbose=0, seed=case.seed + 1)
        _compare_exact(
            f"{label} of a fitted model: the original's weights after fitting the copy", before, model.get_weights()
        )
        copy_after = [p.value.copy() for p in clone.parameters(trainable_only=True)]
        model.fit(x, y, epochs=2, batch_size=case.batch, verbose=0, seed=case.seed + 1)
        _check_copy_trained(
            f"{label} of a fitted model",
            "2 epochs of fit",
            trainable,
            copy_after,
            [p.value for p in model.parameters(trainable_only=True)],
        )
        _compare_exact(
            f"{label} of a fitted model: weights of the copy vs the original after the same fit",
            model.get_weights(),
            clone.get_weights(),
        )


def _check_save_load(case: _Case) -> None:
    """``model.save`` then ``gn.load_model``: same weights, same outputs."""
    if not _applies_to_models(case):
        return
    model, x, _ = _fitted_model(case)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "model.glassnet"
        model.save(path, include_optimizer=True)
        loaded = load_model(path)
    _compare_exact("weights after save/load", model.get_weights(), loaded.get_weights())
    _compare_exact(
        "outputs after save/load",
        [model.forward(x, training=False)],
        [loaded.forward(x, training=False)],
        hint="get_config must return every constructor argument; parameters must be Parameters",
    )


_RUNNERS: dict[str, Callable[[_Case], None]] = {
    "gradient": _check_gradient,
    "grad_output": _check_grad_output,
    "inference_cache": _check_inference_cache,
    "output_shape": _check_output_shape,
    "float32": _check_float32,
    "batch_of_one": _check_batch_of_one,
    "config": _check_config,
    "copy": _check_copy,
    "sequential": _check_sequential,
    "functional": _check_functional,
    "model_copy": _check_model_copy,
    "save_load": _check_save_load,
}

__all__ = ["CHECKS", "check_layer", "floatx"]
