"""Merge layers (Add, Multiply, Concatenate): gradient checks, PyTorch parity, shapes and errors."""

from __future__ import annotations

import numpy as np
import pytest

import glassnet as gn
from glassnet.diagnostics import check_multi_input_layer
from glassnet.errors import ConfigError, ShapeError

L = gn.layers


@pytest.mark.parametrize("n_inputs", [2, 3])
@pytest.mark.parametrize("cls", [L.Add, L.Multiply])
def test_elementwise_merge_passes_gradient_check(cls, n_inputs, rng, float64):
    xs = [rng.normal(size=(4, 3)) for _ in range(n_inputs)]
    report = check_multi_input_layer(cls(), xs)
    assert report.passed, report
    assert set(report.errors) == {f"input[{k}]" for k in range(n_inputs)}


@pytest.mark.parametrize(("axis", "shapes"), [(-1, [(4, 3), (4, 2), (4, 5)]), (1, [(4, 2, 3), (4, 1, 3)]),
                                              (-2, [(4, 2, 3), (4, 4, 3)])])
def test_concatenate_passes_gradient_check(axis, shapes, rng, float64):
    xs = [rng.normal(size=s) for s in shapes]
    report = check_multi_input_layer(L.Concatenate(axis=axis), xs)
    assert report.passed, report
    assert len(report.errors) == len(shapes)


def _torch_merge(torch, name, tensors):
    if name == "add":
        return tensors[0] + tensors[1] + tensors[2]
    if name == "multiply":
        return tensors[0] * tensors[1] * tensors[2]
    return torch.cat(tensors, dim=-1)


@pytest.mark.parametrize(("name", "cls"), [("add", L.Add), ("multiply", L.Multiply), ("concatenate", L.Concatenate)])
def test_merge_matches_pytorch(name, cls, rng, float64, torch):
    xs = [rng.normal(size=(5, 3)) for _ in range(3)]
    xs[1][0, 0] = 0.0  # a zero factor: Multiply's gradient must not divide by it
    layer = cls()
    y = layer.forward(xs, training=True)
    g = rng.normal(size=y.shape)
    grads = layer.backward(g)
    tensors = [torch.tensor(x, requires_grad=True) for x in xs]
    yt = _torch_merge(torch, name, tensors)
    yt.backward(torch.tensor(g))
    np.testing.assert_allclose(y, yt.detach().numpy(), rtol=1e-12, atol=1e-12)
    assert len(grads) == 3
    for grad, t in zip(grads, tensors):
        np.testing.assert_allclose(grad, t.grad.numpy(), rtol=1e-12, atol=1e-12)


def test_multiply_gradient_with_zero_factor_is_product_of_the_others():
    x1, x2 = np.array([[0.0, 2.0]]), np.array([[3.0, 0.0]])
    layer = L.Multiply()
    layer.forward([x1, x2], training=True)
    g1, g2 = layer.backward(np.ones((1, 2)))
    np.testing.assert_array_equal(g1, [[3.0, 0.0]])
    np.testing.assert_array_equal(g2, [[0.0, 2.0]])


def test_merge_keeps_float32(rng):
    xs = [rng.normal(size=(4, 3)).astype(np.float32) for _ in range(2)]
    for cls in (L.Add, L.Multiply, L.Concatenate):
        layer = cls()
        y = layer.forward(xs, training=True)
        assert y.dtype == np.float32
        assert all(g.dtype == np.float32 for g in layer.backward(np.ones_like(y)))


def test_merge_shapes_and_config():
    layer = L.Concatenate(axis=-1, name="join")
    layer.build([(3,), (5,)])
    assert layer.output_shape == (8,)
    assert layer.input_shape == [(3,), (5,)]
    assert layer.get_config() == {"name": "join", "trainable": True, "axis": -1}
    rebuilt = L.deserialize_layer(L.serialize_layer(layer))
    assert isinstance(rebuilt, L.Concatenate) and rebuilt.axis == -1 and rebuilt.name == "join"
    assert L.Add().compute_output_shape([(4,), (4,)]) == (4,)


def test_merge_errors_name_the_layer_and_shapes(rng):
    with pytest.raises(ShapeError, match=r"'add'.*input 0 has \(batch, 3\) but input 1 has \(batch, 4\)"):
        L.Add().forward([np.ones((2, 3)), np.ones((2, 4))])
    with pytest.raises(ShapeError, match="at least 2 inputs"):
        L.Multiply().forward([np.ones((2, 3))])
    with pytest.raises(ShapeError, match="takes a list of arrays"):
        L.Add().forward(np.ones((2, 3)))
    with pytest.raises(ShapeError, match="different batch sizes"):
        L.Add().forward([np.ones((2, 3)), np.ones((3, 3))])
    with pytest.raises(ShapeError, match="only axis -1 may differ"):
        L.Concatenate().forward([np.ones((2, 3, 2)), np.ones((2, 4, 2))])
    with pytest.raises(ConfigError, match="batch axis"):
        L.Concatenate(axis=0)
    layer = L.Add()
    layer.forward([np.ones((2, 3)), np.ones((2, 3))])
    with pytest.raises(ShapeError, match="was built for inputs"):
        layer.forward([np.ones((2, 5)), np.ones((2, 5))])
