"""The model core without Dense/MLP assumptions: the fused output head, N-D activations, the input-gradient
hook, layers with several inputs, the probability-loss check, and compute_loss_and_gradients."""

from __future__ import annotations

import numpy as np
import pytest

import glassnet as gn
from glassnet.diagnostics import gradient_check
from glassnet.errors import ConfigError, ShapeError

L = gn.layers


class Scale(L.Layer):
    """Test-only user layer (not registered): y = x * w, one weight per feature; no fusing hook."""

    def build(self, input_shape):  # type: ignore[no-untyped-def]
        self.w = self.add_parameter("w", np.full(input_shape[-1], 1.5, dtype=self.dtype))

    def forward(self, x, training=False):  # type: ignore[no-untyped-def]
        if training:
            self.cache = {"x": x}
        return x * self.w.value

    def backward(self, grad_output):  # type: ignore[no-untyped-def]
        x = self.read_cache("x")
        axes = tuple(range(grad_output.ndim - 1))
        self.w.grad[...] = (grad_output * x).sum(axis=axes)
        self.calls.append(self.input_grad_required)
        return grad_output * self.w.value if self.input_grad_required else None

    calls: list[bool]

    def __init__(self, name=None):  # type: ignore[no-untyped-def]
        super().__init__(name=name)
        self.calls = []


class ClaimsSoftmax(L.Layer):
    """Test-only: says it ends in a softmax but has no backward_preactivation (must not be fused)."""

    output_activation = "softmax"

    def forward(self, x, training=False):  # type: ignore[no-untyped-def]
        e = np.exp(x - x.max(axis=-1, keepdims=True))
        p = e / e.sum(axis=-1, keepdims=True)
        if training:
            self.cache = {"p": p}
        return p

    def backward(self, grad_output):  # type: ignore[no-untyped-def]
        p = self.read_cache("p")
        return p * (grad_output - (grad_output * p).sum(axis=-1, keepdims=True))


class Bilinear(L.Layer):
    """Test-only several-input layer: y = (a @ W) * b; backward returns [dL/da, dL/db]."""

    takes_input_list = True

    def build(self, input_shape):  # type: ignore[no-untyped-def]
        (n_a,), (n_b,) = input_shape
        rng = np.random.default_rng(0)
        self.kernel = self.add_parameter("kernel", rng.normal(size=(n_a, n_b)).astype(self.dtype))

    def compute_output_shape(self, input_shape):  # type: ignore[no-untyped-def]
        return input_shape[1]

    def forward(self, x, training=False):  # type: ignore[no-untyped-def]
        a, b = x
        h = a @ self.kernel.value
        if training:
            self.cache = {"a": a, "b": b, "h": h}
        return h * b

    def backward(self, grad_output):  # type: ignore[no-untyped-def]
        a, b, h = self.read_cache("a", "b", "h")
        grad_h = grad_output * b
        self.kernel.grad[...] = a.T @ grad_h
        return [grad_h @ self.kernel.value.T, grad_output * h]


def _fused_of(model: gn.Model) -> list[bool]:
    with model.training_session():
        return list(model._fused)


def test_fused_head_is_chosen_the_same_way_in_sequential_and_functional():
    seq = gn.Sequential([L.Input(shape=(4,)), L.Dense(3, activation="softmax")])
    a = L.Input(shape=(4,))
    graph = gn.Model(inputs=a, outputs=L.Dense(3, activation="softmax")(a))
    for model in (seq, graph):
        model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
        assert _fused_of(model) == [True]
        model.compile(optimizer="sgd", loss="mse")
        assert _fused_of(model) == [False]
    # a layer claiming the activation without the hook, and a plain user layer: not fused, no AttributeError
    for last in (ClaimsSoftmax(), Scale()):
        model = gn.Sequential([L.Input(shape=(4,)), L.Dense(3), last]) if isinstance(last, ClaimsSoftmax) else \
            gn.Sequential([L.Input(shape=(4,)), L.Dense(3, activation="softmax"), last])
        model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
        assert _fused_of(model) == [False]
        model.fit(np.ones((4, 4)), np.array([0, 1, 2, 0]), verbose=0)


def test_a_graph_output_that_also_feeds_a_layer_is_not_fused(rng):
    a = L.Input(shape=(4,))
    p = L.Dense(3, activation="softmax", name="probs")(a)
    model = gn.Model(inputs=a, outputs=[p, L.Dense(1, name="value")(p)])
    model.compile(optimizer="sgd", loss=["sparse_categorical_crossentropy", "mse"])
    assert _fused_of(model) == [False, False]
    x, y = rng.normal(size=(6, 4)), [rng.integers(0, 3, size=6), rng.normal(size=(6, 1))]
    assert gradient_check(model, x, y).passed


@pytest.mark.parametrize("graph", [False, True])
def test_dense_on_sequences_trains_and_predicts_in_batches(rng, graph):
    x = rng.normal(size=(40, 5, 3)).astype(np.float32)  # (batch, T, features)
    y = x.sum(axis=-1, keepdims=True) * 0.5
    if graph:
        a = L.Input(shape=(5, 3))
        model = gn.Model(inputs=a, outputs=L.Dense(1)(L.Dense(8, activation="tanh")(a)))
    else:
        model = gn.Sequential([L.Input(shape=(5, 3)), L.Dense(8, activation="tanh"), L.Dense(1)])
    model.compile(optimizer=gn.optimizers.Adam(0.02), loss="mse", metrics=["mae"])
    history = model.fit(x, y, epochs=15, batch_size=8, verbose=0, seed=0).history
    assert history["loss"][-1] < 0.3 * history["loss"][0]
    assert model.output_shape == (5, 1)
    batched = model.predict(x, batch_size=16)  # the reused-buffer path: Dense falls back to fresh arrays
    assert batched.shape == (40, 5, 1) and batched.dtype == np.float32
    np.testing.assert_allclose(batched, model.predict(x), rtol=1e-5, atol=1e-6)
    assert gradient_check(model, x[:4], y[:4]).passed


def test_sequence_softmax_head_is_fused_and_checks(rng):
    model = gn.Sequential([L.Input(shape=(4, 3)), L.Dense(5, activation="softmax")])
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    x, y = rng.normal(size=(6, 4, 3)), rng.integers(0, 5, size=(6, 4))
    assert _fused_of(model) == [True]
    assert gradient_check(model, x, y).passed
    model.fit(x, y, epochs=2, batch_size=3, verbose=0)


def test_input_gradient_hook_on_a_user_layer_in_sequential_and_functional(rng):
    x, y = rng.normal(size=(8, 4)), rng.normal(size=(8, 2))
    first = Scale()
    seq = gn.Sequential([L.Input(shape=(4,)), first, L.Dense(2)])
    a = L.Input(shape=(4,))
    graph_first, middle = Scale(), Scale()
    graph = gn.Model(inputs=a, outputs=L.Dense(2)(middle(L.Dense(4)(graph_first(a)))))
    for model, fed_by_data, inner in ((seq, first, None), (graph, graph_first, middle)):
        model.compile(optimizer="sgd", loss="mse")
        model.fit(x, y, epochs=1, batch_size=4, verbose=0)
        assert fed_by_data.calls == [False, False]  # fed by the data: its input gradient is skipped (None)
        if inner is not None:
            assert inner.calls == [True, True]
        assert all(layer.input_grad_required for layer in model.layers) and model.input_grad_required
        out = model.forward(x, training=True)
        assert model.backward(np.ones_like(out)).shape == x.shape  # by hand, every gradient is returned


def test_a_user_layer_with_several_inputs_uses_the_base_class_path(rng, float64):
    a, b = L.Input(shape=(3,), name="a"), L.Input(shape=(2,), name="b")
    layer = Bilinear()
    model = gn.Model(inputs=[a, b], outputs=L.Dense(1)(layer([a, b])))
    assert layer.input_shape == [(3,), (2,)] and layer.output_shape == (2,)
    xs = [rng.normal(size=(5, 3)), rng.normal(size=(5, 2))]
    model.compile(optimizer="sgd", loss="mse")
    assert gradient_check(model, xs, rng.normal(size=(5, 1))).passed  # unregistered layer, two inputs
    y = layer.forward(xs, training=True)
    grads = layer.backward(np.ones_like(y))
    assert [g.shape for g in grads] == [(5, 3), (5, 2)]
    with pytest.raises(ShapeError, match=r"takes a list of arrays, got ndarray"):
        layer.forward(xs[0])
    with pytest.raises(ShapeError, match=r"built for inputs \['\(batch, 3\)', '\(batch, 2\)'\], got"):
        layer.forward([xs[0], np.ones((5, 4))])
    with pytest.raises(ShapeError, match="different batch sizes"):
        layer.forward([xs[0], np.ones((4, 2))])
    with pytest.raises(ConfigError, match="takes one input, got a list"):
        L.Dense(2)([a, b])


@pytest.mark.parametrize("graph", [False, True])
@pytest.mark.parametrize("loss_class", [gn.losses.BinaryCrossentropy, gn.losses.SparseCategoricalCrossentropy])
def test_a_probability_loss_on_a_linear_output_is_refused_with_a_hint(graph, loss_class):
    units = 1 if loss_class is gn.losses.BinaryCrossentropy else 3
    if graph:
        a = L.Input(shape=(4,))
        model = gn.Model(inputs=a, outputs=L.Dense(units)(a))
    else:
        model = gn.Sequential([L.Input(shape=(4,)), L.Dense(units)])
    activation = "sigmoid" if units == 1 else "softmax"
    with pytest.raises(ConfigError, match=rf"linear \(raw scores\).*activation='{activation}'.*from_logits=True"):
        model.compile(optimizer="sgd", loss=loss_class())
    model.compile(optimizer="sgd", loss=loss_class(from_logits=True))
    model.compile(optimizer="sgd", loss="mse")  # a regression loss on raw scores is fine


def test_the_check_also_runs_when_training_starts():
    model = gn.Sequential([L.Dense(3, activation="softmax")])
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    model.layers[-1].activation = gn.activations.get("linear")  # changed after compile
    with pytest.raises(ConfigError, match="linear"):
        model.fit(np.ones((4, 2)), np.array([0, 1, 2, 0]), verbose=0)


def test_train_step_applies_exactly_compute_loss_and_gradients(rng):
    gn.set_seed(1)
    model = gn.Sequential([L.Input(shape=(4,)), L.Dense(5, activation="relu", kernel_regularizer="l2"),
                           L.Dense(3, activation="softmax")])
    model.compile(optimizer=gn.optimizers.SGD(0.1), loss="sparse_categorical_crossentropy")
    x, y = rng.normal(size=(6, 4)).astype(np.float32), rng.integers(0, 3, size=6)
    before = model.get_weights()
    loss = model.compute_loss_and_gradients(x, y)
    grads = [p.grad.copy() for p in model.parameters()]
    expected = model.loss(y, model.forward(x)) + model.regularization_penalty()
    assert loss == pytest.approx(expected, rel=1e-6)
    with model.training_session():
        assert model.train_step((x, y))["loss"] == pytest.approx(loss, rel=1e-6)
    for w, w0, g in zip(model.get_weights(), before, grads):
        np.testing.assert_allclose(w, w0 - 0.1 * g, rtol=1e-5, atol=1e-7)
        assert w.dtype == np.float32
