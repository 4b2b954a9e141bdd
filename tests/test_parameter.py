"""Parameters and the flat pack that lets optimizers update a whole model in a few passes."""

from __future__ import annotations

import numpy as np
import pytest

import glassnet as gn
from glassnet.parameter import pack_parameters


def test_parameter_has_value_grad_name_trainable():
    p = gn.Parameter(np.array([1.0, 2.0]), name="w")
    assert p.grad.shape == p.value.shape and p.grad.dtype == p.value.dtype and not p.grad.any()
    p.grad[...] = 3.0
    assert p.grad.tolist() == [3.0, 3.0] and p.trainable and p.name == "w"
    assert gn.Parameter([1, 2]).dtype == np.float32  # integers become floatx


def test_assigning_value_copies_in_place_and_checks_shape():
    p = gn.Parameter(np.zeros(3))
    view = p.value
    p.value = [1.0, 2.0, 3.0]
    assert view.tolist() == [1.0, 2.0, 3.0]
    with pytest.raises(gn.ShapeError, match=r"\(2,\).*\(3,\)"):
        p.value = np.zeros(2)


def test_pack_makes_values_and_grads_views_of_two_flat_buffers():
    a, b = gn.Parameter(np.ones((2, 3))), gn.Parameter(np.full(4, 2.0))
    pack = pack_parameters([a, b])
    assert pack is not None and pack.values.shape == (10,)
    pack.values *= 10
    assert a.value.sum() == 60 and b.value.sum() == 80
    b.grad[...] = 5
    assert pack.grads[6:].tolist() == [5.0] * 4
    assert pack.covers([a, b]) and not pack.covers([b, a]) and not pack.covers([a])


def test_model_packs_its_trainable_parameters_and_sgd_uses_the_flat_path(rng):
    model = gn.Sequential([gn.layers.Input(shape=(3,)), gn.layers.Dense(4), gn.layers.Dense(2)])
    params = model.parameters(trainable_only=True)
    assert model._pack is not None and model._pack.covers(params)
    for p in params:
        p.grad[...] = 1.0
    before = [p.value.copy() for p in params]
    gn.optimizers.SGD(learning_rate=0.5).step(params)
    for p, old in zip(params, before):
        np.testing.assert_allclose(p.value, old - 0.5)


def test_fit_skips_the_unused_input_gradient_but_backward_still_returns_it(rng):
    seen = []

    class Spy(gn.layers.Dense):
        def backward(self, grad_output):
            result = super().backward(grad_output)  # a user subclass calling super() keeps working
            seen.append(result)
            return result

    model = gn.Sequential([Spy(3), gn.layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    model.fit(rng.normal(size=(8, 2)), rng.normal(size=8), batch_size=8, verbose=0)
    assert seen == [None]
    model.forward(rng.normal(size=(8, 2)), training=True)
    grad_x = model.backward(np.ones((8, 1)))
    assert grad_x.shape == (8, 2) and seen[-1] is not None
