"""``glassnet.testing.check_layer`` passes correct layers and names the check that a broken one fails."""

from __future__ import annotations

import copy
import re

import numpy as np
import pytest

import glassnet as gn
from glassnet.layers import LAYERS, Dense, Layer, register_layer
from glassnet.testing import CHECKS, check_layer


@pytest.fixture(autouse=True)
def _registry_restored():
    """Layers registered by a test leave the registry afterwards (the contract test lists built-ins only)."""
    classes, aliases = dict(LAYERS._classes), dict(LAYERS._aliases)
    yield
    LAYERS._classes.clear()
    LAYERS._classes.update(classes)
    LAYERS._aliases.clear()
    LAYERS._aliases.update(aliases)


def _failure(layer, input_shape, **kwargs) -> str:
    with pytest.raises(AssertionError) as info:
        check_layer(layer, input_shape, **kwargs)
    return str(info.value)


def _failed_checks(message: str) -> list[str]:
    return re.findall(r"^\s+\[(\w+)\]", message, re.M)


# -- layers that keep the contract ------------------------------------------------------------------
def test_a_correct_layer_passes_as_instance_and_as_factory():
    check_layer(Dense(3, activation="tanh"), (4,))
    check_layer(lambda: Dense(3, activation="tanh"), (2, 4), batch=2)


def test_dropout_is_checked_with_a_fixed_mask():
    check_layer(lambda: gn.layers.Dropout(0.5, seed=0), (6,))


def test_several_inputs():
    check_layer(gn.layers.Concatenate, [(2,), (3,), (1,)])


@register_layer
class Split(Layer):
    """Two outputs: y_1 = x * w, y_2 = tanh(x); dL/dx = g_1 w + g_2 (1 - y_2^2), dL/dw = sum_batch g_1 x."""

    def build(self, input_shape):
        self.w = self.add_parameter("w", np.linspace(0.5, 1.5, input_shape[-1]).astype(self.dtype))

    def forward(self, x, training=False):
        y2 = np.tanh(x)
        if training:
            self.cache = {"x": x, "y2": y2}
        return [x * self.w.value, y2]

    def backward(self, grad_output):
        x, y2 = self.read_cache("x", "y2")
        g1, g2 = grad_output
        np.sum(g1 * x, axis=0, out=self.w.grad)
        return g1 * self.w.value + g2 * (1 - y2 * y2)


def test_a_layer_with_several_outputs_gets_one_projection_per_output():
    check_layer(Split, (4,))


@register_layer
class WrongSecondOutput(Split):
    def backward(self, grad_output):
        x, y2 = self.read_cache("x", "y2")
        g1, g2 = grad_output
        np.sum(g1 * x, axis=0, out=self.w.grad)
        return g1 * self.w.value + g2  # forgets tanh' on the second output


def test_a_wrong_gradient_through_the_second_output_fails():
    message = _failure(WrongSecondOutput, (4,))
    assert _failed_checks(message) == ["gradient"] and "input:" in message


@register_layer
class Lookup(Layer):
    """y[b, i] = table[x[b, i]]: integer indices in, rows of a learned table out (an embedding)."""

    def __init__(self, rows: int = 5, width: int = 3, name=None, trainable=True):
        super().__init__(name=name, trainable=trainable)
        self.rows, self.width = rows, width

    def build(self, input_shape):
        values = np.random.default_rng(0).normal(size=(self.rows, self.width)).astype(self.dtype)
        self.table = self.add_parameter("table", values)

    def compute_output_shape(self, input_shape):
        return (*input_shape, self.width)

    def forward(self, x, training=False):
        index = x.astype(np.intp)
        if training:
            self.cache = {"index": index}
        return self.table.value[index]

    def backward(self, grad_output):
        index = self.read_cache("index")
        self.table.grad[...] = 0
        np.add.at(self.table.grad, index, grad_output)
        return None  # no gradient with respect to integer indices

    def get_config(self):
        return {**super().get_config(), "rows": self.rows, "width": self.width}


def test_integer_inputs_skip_the_input_gradient():
    check_layer(Lookup, (4,), input_dtype="int64")
    check_layer(Lookup, (4,), input_dtype=np.int32, input_generator=lambda rng, shape: rng.integers(0, 5, shape))


# -- layers that break it: each failure names its check --------------------------------------------
@register_layer
class ForgetsOutputShape(Lookup):
    compute_output_shape = Layer.compute_output_shape


def test_a_wrong_output_shape_fails():
    message = _failure(ForgetsOutputShape, (4,), input_dtype="int64")
    assert (
        "[output_shape] layer.output_shape is (4,) but forward returns outputs of shape (batch, ...) = (4, 3)"
        in message
    )


@register_layer
class OffByOnePercent(Dense):
    def backward(self, grad_output):
        grad = super().backward(grad_output)
        self.kernel.grad *= 1.01
        return grad


@register_layer
class WrongSign(Dense):
    def backward(self, grad_output):
        return -super().backward(grad_output)


def test_a_kernel_gradient_off_by_one_percent_fails_the_gradient_check():
    message = _failure(lambda: OffByOnePercent(3), (4,))
    assert _failed_checks(message) == ["gradient"]
    assert "parameter 'off_by_one_percent/kernel': relative error" in message
    assert "largest difference at index" in message


def test_a_wrong_sign_on_the_input_gradient_fails():
    message = _failure(lambda: WrongSign(3, activation="relu"), (4,))
    assert "[gradient] input: relative error 1.00e+00" in message


def test_a_large_tensor_is_checked_along_random_directions():
    message = _failure(lambda: OffByOnePercent(30), (40,), max_entries=64)
    assert "checked along random directions" in message and "off_by_one_percent/kernel" in message


@register_layer
class Accumulates(Dense):
    def backward(self, grad_output):
        kernel_grad = self.kernel.grad.copy()
        grad = super().backward(grad_output)
        self.kernel.grad += kernel_grad
        return grad


def test_a_backward_that_adds_to_grad_fails():
    message = _failure(lambda: Accumulates(3), (4,))
    assert "[gradient] parameter 'accumulates/kernel': two identical backward calls gave different gradients" in message


@register_layer
class NotANumber(Dense):
    def backward(self, grad_output):
        grad = super().backward(grad_output)
        self.bias.grad[0] = np.nan
        return grad


def test_a_nan_gradient_fails():
    assert "[gradient] parameter 'not_a_number/bias': relative error nan" in _failure(lambda: NotANumber(3), (4,))


@register_layer
class MutatesGradOutput(Dense):
    def backward(self, grad_output):
        grad = super().backward(grad_output)
        grad_output *= 0.5
        return grad


def test_a_backward_that_modifies_grad_output_fails():
    message = _failure(lambda: MutatesGradOutput(3), (4,))
    assert "[grad_output] backward modified grad_output in place" in message


@register_layer
class ForgetsUnits(Dense):
    def get_config(self):
        config = super().get_config()
        del config["units"]
        return config


@register_layer
class ForgetsActivation(Dense):
    def get_config(self):
        config = super().get_config()
        del config["activation"]
        return config


def test_a_config_missing_a_required_argument_fails():
    message = _failure(lambda: ForgetsUnits(3), (4,))
    assert "[config] from_config(get_config()) raised TypeError" in message


def test_a_config_missing_an_optional_argument_fails_on_the_outputs():
    message = _failure(lambda: ForgetsActivation(3, activation="tanh"), (4,))
    assert "[config] outputs (training=False) of the layer rebuilt from its config" in message
    assert "save_load" in _failed_checks(message)


class Unregistered(Dense):
    pass


def test_an_unregistered_layer_fails_the_config_check_with_the_hint():
    message = _failure(lambda: Unregistered(3), (4,))
    assert "[config]" in message and "register_layer" in message


@register_layer
class StaleCache(Dense):
    def forward(self, x, training=False):
        y = super().forward(x, training)
        self.cache = {"x": x, "a": y}  # kept even at inference
        return y


def test_a_cache_kept_after_inference_fails():
    message = _failure(lambda: StaleCache(3), (4,))
    assert _failed_checks(message) == ["inference_cache"]
    assert "layer.cache holds ['a', 'x'] after forward(x, training=False)" in message


@register_layer
class Upcasts(Dense):
    def forward(self, x, training=False):
        return super().forward(x, training).astype(np.float64)


def test_a_layer_that_upcasts_float32_fails():
    message = _failure(lambda: Upcasts(3), (4,))
    assert "[float32] forward(training=False) output[0] is float64 for float32 inputs" in message


@register_layer
class IgnoresDtype(Dense):
    def build(self, input_shape):
        self.kernel = self.add_parameter("kernel", np.ones((input_shape[-1], self.units), dtype=np.float32))
        self.bias = self.add_parameter("bias", np.zeros(self.units, dtype=np.float32))


def test_parameters_that_ignore_the_dtype_fail_the_gradient_check():
    message = _failure(lambda: IgnoresDtype(3), (4,))
    assert "[gradient] parameter 'ignores_dtype/kernel' is float32 in a float64 layer" in message


@register_layer
class SharedOnCopy(Dense):
    def __deepcopy__(self, memo):
        return self  # a "copy" that is the original: training it changes the original


def test_a_copy_that_shares_the_original_fails():
    message = _failure(lambda: SharedOnCopy(3), (4,))
    assert "[copy] copy.deepcopy with SGD: the original's weights after training the copy" in message


def test_every_failure_is_listed_in_one_message():
    message = _failure(lambda: StaleCache(3), (4,), skip=())
    assert message.startswith(f"check_layer(StaleCache): 1 of {len(CHECKS)} checks failed")
    check_layer(lambda: StaleCache(3), (4,), skip=["inference_cache"])


def test_bad_arguments_are_refused():
    with pytest.raises(ValueError, match="unknown check"):
        check_layer(Dense(2), (3,), skip=["gradients"])
    built = Dense(2)
    built.build((3,))
    with pytest.raises(ValueError, match="already built"):
        check_layer(built, (3,))
    with pytest.raises(TypeError, match="expected a Layer"):
        check_layer(copy, (3,))  # type: ignore[arg-type]
