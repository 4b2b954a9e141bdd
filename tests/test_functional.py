"""Graph models (gn.Model(inputs=..., outputs=...)): gradient checks of whole graphs, PyTorch parity of
training, nesting with Sequential, the list-input training loop, save/load and errors."""

from __future__ import annotations

import numpy as np
import pytest

import glassnet as gn
from glassnet.diagnostics import check_layer, check_multi_input_layer
from glassnet.errors import ConfigError, ShapeError, StateError

L = gn.layers


def two_input_model() -> gn.Model:
    a, b = L.Input(shape=(4,), name="a"), L.Input(shape=(3,), name="b")
    h = L.Dense(5, activation="tanh")(a)
    joined = L.Concatenate()([h, L.Dense(2, activation="sigmoid")(b)])
    return gn.Model(inputs=[a, b], outputs=L.Dense(3)(joined), name="two")


def shared_layer_model() -> gn.Model:
    """One Dense applied to both inputs (its gradient sums two calls); ``h_a`` also fans out twice."""
    a, b = L.Input(shape=(4,), name="a"), L.Input(shape=(4,), name="b")
    shared = L.Dense(5, activation="tanh", name="shared")
    h_a, h_b = shared(a), shared(b)
    merged = L.Concatenate()([L.Add()([h_a, h_b]), L.Multiply()([h_a, h_b])])
    return gn.Model(inputs=[a, b], outputs=L.Dense(3)(merged))


def test_model_with_inputs_is_a_functional_graph_and_sequential_still_a_model():
    model = two_input_model()
    assert isinstance(model, gn.models.Functional) and isinstance(model, gn.Model)
    assert isinstance(gn.Sequential([L.Input(shape=(2,)), L.Dense(1)]), gn.Model)
    assert [layer.name for layer in model.layers] == ["dense", "dense_1", "concatenate", "dense_2"]
    assert model.input_shape == [(4,), (3,)] and model.output_shape == (3,)
    assert model.count_params() == (4 * 5 + 5) + (3 * 2 + 2) + (7 * 3 + 3)


def test_layer_on_array_still_computes_and_on_input_records(rng):
    dense = L.Dense(2)
    y = dense(rng.normal(size=(3, 4)))
    assert isinstance(y, np.ndarray) and y.shape == (3, 2)
    tensor = L.Dense(2)(L.Input(shape=(4,)))
    assert isinstance(tensor, L.symbolic.SymbolicTensor) and tensor.shape == (2,)


def test_two_input_graph_passes_gradient_check(rng, float64):
    model = two_input_model()
    report = check_multi_input_layer(model, [rng.normal(size=(5, 4)), rng.normal(size=(5, 3))])
    assert report.passed, report
    assert {"input[0]", "input[1]", "dense/kernel", "dense_2/bias"} <= set(report.errors)


def test_shared_layer_and_fan_out_pass_gradient_check(rng, float64):
    model = shared_layer_model()
    assert sum(layer.name == "shared" for layer in model.layers) == 1  # counted once
    report = check_multi_input_layer(model, [rng.normal(size=(6, 4)), rng.normal(size=(6, 4))])
    assert report.passed, report
    assert "shared/kernel" in report.errors


def test_shared_layer_gradient_is_the_sum_over_its_calls(rng, float64):
    """Independent formula: with y = W a + W b (no bias), dL/dW = a^T g + b^T g."""
    a, b = L.Input(shape=(3,)), L.Input(shape=(3,))
    shared = L.Dense(2, use_bias=False)
    model = gn.Model(inputs=[a, b], outputs=L.Add()([shared(a), shared(b)]))
    xa, xb, g = rng.normal(size=(4, 3)), rng.normal(size=(4, 3)), rng.normal(size=(4, 2))
    model.forward([xa, xb], training=True)
    grad_a, grad_b = model.backward(g)
    np.testing.assert_allclose(shared.kernel.grad, xa.T @ g + xb.T @ g, rtol=1e-12)
    np.testing.assert_allclose(grad_a, g @ shared.kernel.value.T, rtol=1e-12)
    np.testing.assert_allclose(grad_b, g @ shared.kernel.value.T, rtol=1e-12)


def test_single_input_fan_out_passes_gradient_check(rng, float64):
    x = L.Input(shape=(3,))
    h = L.Dense(4, activation="relu")(x)
    out = L.Concatenate()([L.Dense(2, activation="tanh")(h), L.Dense(3)(h), x])
    model = gn.Model(inputs=x, outputs=out)
    report = check_layer(model, rng.normal(size=(5, 3)) + 0.1)
    assert report.passed, report
    assert model.input_shape == (3,)


def test_nested_models_pass_gradient_check(rng, float64):
    """A Sequential used twice as a node of a graph, inside a graph that is a layer of a Sequential."""
    a, b = L.Input(shape=(3,), name="a"), L.Input(shape=(3,), name="b")
    tower = gn.Sequential([L.Dense(4, activation="tanh"), L.Dense(2, activation="sigmoid")], name="tower")
    inner = gn.Model(inputs=[a, b], outputs=L.Multiply()([tower(a), tower(b)]), name="inner")
    report = check_multi_input_layer(inner, [rng.normal(size=(4, 3)), rng.normal(size=(4, 3))])
    assert report.passed, report
    assert {"tower/dense/kernel", "tower/dense_1/bias"} <= set(report.errors)

    x = L.Input(shape=(5,))
    single = gn.Model(inputs=x, outputs=L.Dense(3, activation="tanh")(x), name="graph")
    outer = gn.Sequential([L.Input(shape=(5,)), single, L.Dense(2)])
    report = check_layer(outer, rng.normal(size=(4, 5)))
    assert report.passed, report
    assert "graph/dense_2/kernel" in report.errors  # the tower above took dense and dense_1


def test_graph_used_twice_inside_another_graph(rng, float64):
    x = L.Input(shape=(3,))
    block = gn.Model(inputs=x, outputs=L.Dense(3, activation="tanh")(x), name="block")
    y = L.Input(shape=(3,))
    model = gn.Model(inputs=y, outputs=L.Dense(1)(block(block(y))))
    report = check_layer(model, rng.normal(size=(4, 3)))
    assert report.passed, report


def _sgd_torch_reference(torch, model, xa, xb, y, lr, steps):
    """The shared-layer model written out in PyTorch, trained with plain SGD on the mean cross-entropy."""
    shared_w, shared_b, out_w, out_b = (torch.tensor(w, requires_grad=True) for w in model.get_weights())
    params = [shared_w, shared_b, out_w, out_b]
    ta, tb, ty = torch.tensor(xa), torch.tensor(xb), torch.tensor(y)
    for _ in range(steps):
        h_a, h_b = torch.tanh(ta @ shared_w + shared_b), torch.tanh(tb @ shared_w + shared_b)
        logits = torch.cat([h_a + h_b, h_a * h_b], dim=-1) @ out_w + out_b
        loss = torch.nn.functional.cross_entropy(logits, ty)
        for p in params:
            p.grad = None
        loss.backward()
        with torch.no_grad():
            for p in params:
                p -= lr * p.grad
    return [p.detach().numpy() for p in params]


def test_two_input_model_trains_like_pytorch(rng, float64, torch):
    a, b = L.Input(shape=(4,), name="a"), L.Input(shape=(4,), name="b")
    shared = L.Dense(5, activation="tanh", name="shared")
    h_a, h_b = shared(a), shared(b)
    out = L.Dense(3, activation="softmax")(L.Concatenate()([L.Add()([h_a, h_b]), L.Multiply()([h_a, h_b])]))
    model = gn.Model(inputs=[a, b], outputs=out)
    xa, xb = rng.normal(size=(12, 4)), rng.normal(size=(12, 4))
    y = rng.integers(0, 3, size=12)
    expected = _sgd_torch_reference(torch, model, xa, xb, y, lr=0.5, steps=4)
    model.compile(optimizer=gn.optimizers.SGD(learning_rate=0.5), loss="sparse_categorical_crossentropy")
    model.fit([xa, xb], y, epochs=4, batch_size=12, shuffle=False, verbose=0)
    assert model._fused  # softmax output + cross-entropy: the fused gradient path was used
    for got, want in zip(model.get_weights(), expected):
        np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12)


def test_list_input_training_matches_concatenated_sequential(rng):
    """Shuffled mini-batches of [x_a, x_b] gather the same rows as one hstacked array."""
    xa, xb = rng.normal(size=(50, 3)).astype(np.float32), rng.normal(size=(50, 2)).astype(np.float32)
    y = (xa[:, 0] - xb[:, 1] > 0).astype(np.float32).reshape(-1, 1)
    a, b = L.Input(shape=(3,)), L.Input(shape=(2,))
    graph = gn.Model(inputs=[a, b], outputs=L.Dense(1, activation="sigmoid")(L.Concatenate()([a, b])))
    stack = gn.Sequential([L.Input(shape=(5,)), L.Dense(1, activation="sigmoid")])
    stack.set_weights(graph.get_weights())
    for model in (graph, stack):
        model.compile(optimizer="sgd", loss="binary_crossentropy", metrics=["accuracy"])
    h_graph = graph.fit([xa, xb], y, epochs=3, batch_size=8, seed=7, verbose=0, validation_split=0.2)
    h_stack = stack.fit(np.hstack([xa, xb]), y, epochs=3, batch_size=8, seed=7, verbose=0, validation_split=0.2)
    for got, want in zip(graph.get_weights(), stack.get_weights()):
        np.testing.assert_allclose(got, want, rtol=1e-6)
    np.testing.assert_allclose(h_graph.history["val_loss"], h_stack.history["val_loss"], rtol=1e-6)
    assert graph.get_weights()[0].dtype == np.float32
    pred = graph.predict([xa, xb], batch_size=16)
    np.testing.assert_allclose(pred, stack.predict(np.hstack([xa, xb])), rtol=1e-6)
    np.testing.assert_allclose(graph.evaluate([xa, xb], y)["loss"], stack.evaluate(np.hstack([xa, xb]), y)["loss"],
                               rtol=1e-6)


def test_get_set_weights_and_summary(rng):
    model = shared_layer_model()
    weights = [w + 1.0 for w in model.get_weights()]
    model.set_weights(weights)
    for got, want in zip(model.get_weights(), weights):
        np.testing.assert_array_equal(got, want)
    lines: list[str] = []
    model.summary(print_fn=lines.append)
    text = "\n".join(lines)
    assert "Connected to" in text
    assert "shared (Dense)" in text and "a; b" in text  # called once on a, once on b
    assert "add, multiply" in text
    assert f"Total params: {model.count_params():,}" in text


def test_save_load_round_trip(tmp_path, rng):
    a, b = L.Input(shape=(4,), name="a"), L.Input(shape=(3,), name="b")
    tower = gn.Sequential([L.Dense(3, activation="relu"), L.Dense(3)], name="tower")
    shared = L.Dense(3, activation="tanh", name="shared")
    h = L.Add()([tower(a), shared(b), shared(L.Dense(3)(b))])
    model = gn.Model(inputs=[a, b], outputs=L.Dense(2, activation="softmax")(h), name="net")
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    xa, xb, y = rng.normal(size=(20, 4)), rng.normal(size=(20, 3)), rng.integers(0, 2, size=20)
    model.fit([xa, xb], y, epochs=2, batch_size=5, verbose=0, seed=0)
    path = tmp_path / "net.glassnet"
    model.save(path)
    loaded = gn.load_model(path)
    assert isinstance(loaded, gn.models.Functional) and loaded.name == "net"
    assert [p.name for p in loaded.parameters()] == [p.name for p in model.parameters()]
    np.testing.assert_array_equal(loaded.predict([xa, xb]), model.predict([xa, xb]))
    assert loaded.get_config() == model.get_config()
    assert loaded.evaluate([xa, xb], y) == model.evaluate([xa, xb], y)


def test_graph_inside_sequential_saves_and_loads(tmp_path, rng):
    x = L.Input(shape=(4,))
    graph = gn.Model(inputs=x, outputs=L.Concatenate()([L.Dense(2)(x), L.Dense(3, activation="relu")(x)]))
    model = gn.Sequential([L.Input(shape=(4,)), graph, L.Dense(1)])
    model.save(tmp_path / "m.glassnet")
    loaded = gn.load_model(tmp_path / "m.glassnet")
    data = rng.normal(size=(6, 4)).astype(np.float32)
    np.testing.assert_array_equal(loaded.predict(data), model.predict(data))


def test_wrong_input_shape_names_the_input():
    model = two_input_model()
    with pytest.raises(ShapeError, match=r"input 'b' expects shape \(batch, 3\), got \(2, 5\)"):
        model.forward([np.ones((2, 4)), np.ones((2, 5))])
    model.compile(optimizer="sgd", loss="mse")
    with pytest.raises(ShapeError, match=r"input 'a' expects shape \(batch, 4\)"):
        model.predict([np.ones((2, 3)), np.ones((2, 3))])


def test_wrong_number_of_inputs_is_refused():
    model = two_input_model()
    with pytest.raises(ShapeError, match=r"takes 2 input\(s\) \['a', 'b'\], got 3"):
        model.forward([np.ones((2, 4)), np.ones((2, 3)), np.ones((2, 3))])
    with pytest.raises(ShapeError, match="takes 2 inputs"):
        model.forward(np.ones((2, 4)))
    model.compile(optimizer="sgd", loss="mse")
    with pytest.raises(ShapeError, match=r"got 1"):
        model.fit([np.ones((2, 4))], np.ones((2, 3)), verbose=0)
    with pytest.raises(ShapeError, match="different batch sizes"):
        model.forward([np.ones((2, 4)), np.ones((3, 3))])


def test_output_must_depend_on_every_declared_input():
    a, b = L.Input(shape=(4,), name="a"), L.Input(shape=(3,), name="b")
    out = L.Dense(2)(a)
    with pytest.raises(ConfigError, match="does not depend on input 'b'"):
        gn.Model(inputs=[a, b], outputs=out)
    with pytest.raises(ConfigError, match="depends on Input 'b', which is not in inputs"):
        gn.Model(inputs=a, outputs=L.Concatenate()([out, b]))


def test_construction_errors():
    a = L.Input(shape=(4,), name="a")
    h = L.Dense(2)(a)
    with pytest.raises(ConfigError, match=r"inputs\[0\] must be an Input"):
        gn.Model(inputs=h, outputs=L.Dense(1)(h))
    with pytest.raises(ConfigError, match="listed twice"):
        gn.Model(inputs=[a, a], outputs=h)
    with pytest.raises(ConfigError, match="listed twice in outputs"):
        gn.Model(inputs=a, outputs=[h, h])
    with pytest.raises(ConfigError, match="takes one input, got a list of 2"):
        L.Dense(1)([h, h])
    with pytest.raises(ConfigError, match="the Input 'a' itself"):
        gn.Model(inputs=a, outputs=a)
    dense = L.Dense(3)
    dense(a)
    with pytest.raises(ShapeError, match="was built for inputs \\(batch, 4\\) but is called on \\(batch, 2\\)"):
        dense(h)
    with pytest.raises(ConfigError, match="mixing symbolic tensors"):
        L.Add()([h, np.ones((1, 2))])


def test_backward_before_training_forward_is_refused():
    model = two_input_model()
    model.forward([np.ones((2, 4)), np.ones((2, 3))])
    with pytest.raises(StateError, match="training=True"):
        model.backward(np.ones((2, 3)))


def test_docs_models_examples_run(tmp_path, monkeypatch, capsys):
    """Every python block of docs/models.md runs (the doc cannot drift from the code)."""
    import re
    from pathlib import Path

    text = (Path(__file__).resolve().parents[1] / "docs" / "models.md").read_text()
    blocks = re.findall(r"```python\n(.*?)```", text, flags=re.S)
    assert len(blocks) == 3
    monkeypatch.chdir(tmp_path)
    namespace: dict[str, object] = {}
    for block in blocks:
        exec(block.replace("/tmp/", f"{tmp_path}/"), namespace)
    first = namespace["tower"].layers[0].name  # type: ignore[attr-defined]
    assert first == "dense_5"  # the sixth unnamed Dense of the page (Keras-style numbering)
    assert namespace["siamese"].parameters()[0].name == f"tower/{first}/kernel"  # type: ignore[attr-defined]
    logs = sorted(namespace["logs"])  # type: ignore[call-overload]
    assert logs == ["kind_accuracy", "kind_loss", "learning_rate", "loss", "size_loss"]
    assert "Connected to" in capsys.readouterr().out


class _BufferedScale(L.Layer):
    """y = 2 x, written (like Dense inside ``Model.workspaces``) into one reused buffer when ``workspace`` is set."""

    workspace: object = None

    def forward(self, x, training=False):
        if self.workspace is None:
            return 2.0 * x
        self._y = getattr(self, "_y", np.empty_like(x))
        return np.multiply(x, 2.0, out=self._y)


def test_shared_layer_with_reused_buffers_is_copied(rng):
    """In inference (where workspaces are used) a shared layer that overwrites one buffer per call would
    corrupt the first call's output; the graph copies it, so results equal the fresh-array run."""
    a, b = L.Input(shape=(3,)), L.Input(shape=(3,))
    shared = _BufferedScale()
    model = gn.Model(inputs=[a, b], outputs=L.Concatenate()([shared(a), shared(b)]))
    xs = [rng.normal(size=(4, 3)), rng.normal(size=(4, 3))]
    fresh = model.forward(xs).copy()
    shared.workspace = object()
    np.testing.assert_array_equal(model.forward(xs), fresh)
    np.testing.assert_array_equal(fresh, np.hstack([2 * xs[0], 2 * xs[1]]))


def test_unused_input_gradients_are_skipped_but_parameter_gradients_kept(rng, float64):
    model = two_input_model()
    xs, g = [rng.normal(size=(3, 4)), rng.normal(size=(3, 3))], rng.normal(size=(3, 3))
    model.forward(xs, training=True)
    full = model.backward(g)
    expected = [p.grad.copy() for p in model.parameters()]
    model.input_grad_required = False  # as during fit
    model.forward(xs, training=True)
    assert model._run_backward(g, False) is None  # the path fit takes
    for got, want in zip(model.backward(g), full):  # a call from outside always returns dL/dx
        np.testing.assert_array_equal(got, want)
    assert model.input_grad_required is False
    assert all(layer.input_grad_required for layer in model.layers)  # restored after the pass
    for p, want in zip(model.parameters(), expected):
        np.testing.assert_array_equal(p.grad, want)
    assert len(full) == 2
