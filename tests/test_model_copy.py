"""A deep-copied or pickled model trains exactly like the original (issue 10, item 6).

The parameters of a model are views into one flat ``ParameterPack`` buffer that the optimizer updates.
``copy.deepcopy`` and ``pickle`` copy views as independent arrays, so before the fix a copy's
optimizer moved the flat buffer while its layers kept reading their detached arrays: the copy
silently did not train.
"""

from __future__ import annotations

import copy
import pickle

import numpy as np
import pytest

import glassnet as gn
from glassnet.parameter import Parameter, ParameterPack

L = gn.layers


def _data():
    rng = np.random.default_rng(7)
    x = rng.normal(size=(48, 4)).astype(np.float32)
    return x, rng.integers(0, 3, size=48)


def _sequential():
    return gn.Sequential(
        [
            L.Input(shape=(4,)),
            L.Dense(6, activation="relu"),
            L.Dropout(0.25, seed=3),
            L.BatchNormalization(),
            L.Dense(3, activation="softmax"),
        ]
    )


def _functional():
    a = L.Input(shape=(4,))
    h = L.Dense(5, activation="tanh")(a)
    return gn.Model(inputs=a, outputs=L.Dense(3, activation="softmax")(L.Concatenate()([h, a])))


def _pickled(model):
    return pickle.loads(pickle.dumps(model))


def _same(a, b) -> bool:
    return all(np.array_equal(u, v) for u, v in zip(a, b, strict=True))


@pytest.mark.parametrize("build", [_sequential, _functional], ids=["sequential", "functional"])
@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
@pytest.mark.parametrize("make_copy", [copy.deepcopy, _pickled], ids=["deepcopy", "pickle"])
def test_copy_of_a_trained_model_trains_like_the_original(build, optimizer, make_copy):
    x, y = _data()
    model = build()
    model.compile(optimizer=optimizer, loss="sparse_categorical_crossentropy")
    model.fit(x, y, epochs=1, batch_size=16, verbose=0, seed=1)
    clone = make_copy(model)
    before = model.get_weights()

    clone.fit(x, y, epochs=2, batch_size=16, verbose=0, seed=2)
    assert not _same(before, clone.get_weights()), "the copy did not train"
    assert _same(before, model.get_weights()), "training the copy changed the original"

    model.fit(x, y, epochs=2, batch_size=16, verbose=0, seed=2)
    assert _same(model.get_weights(), clone.get_weights())
    original, copied = model.optimizer.get_state(), clone.optimizer.get_state()
    assert original.keys() == copied.keys()
    for key in original:
        assert np.array_equal(original[key], copied[key]), f"optimizer state {key} differs"


def test_copied_parameters_are_views_of_the_copied_pack():
    params = [Parameter(np.arange(6.0).reshape(2, 3), name="a"), Parameter(np.ones(4), name="b")]
    pack = ParameterPack(params)
    for clone in (copy.deepcopy(pack), _pickled(pack), copy.deepcopy(params)[0]._pack):
        assert clone is not pack
        for p in clone.params:
            assert p._pack is clone
            assert np.shares_memory(p.value, clone.values) and np.shares_memory(p.grad, clone.grads)
        clone.values += 1.0
        assert np.array_equal(clone.params[0].value, np.arange(6.0).reshape(2, 3) + 1.0)
    assert np.array_equal(params[0].value, np.arange(6.0).reshape(2, 3))


def test_a_parameter_repacked_later_follows_its_current_pack_after_a_copy():
    """An optimizer may still hold an old pack as a key; unpickling it must not steal the parameters."""
    params = [Parameter(np.zeros(3), name="a"), Parameter(np.zeros(2), name="b")]
    old = ParameterPack(params)
    new = ParameterPack(params)
    for order in ([old, new], [new, old], [params, old, new]):
        new_c = _pickled(order)[next(i for i, item in enumerate(order) if item is new)]
        for p in new_c.params:
            assert p._pack is new_c and np.shares_memory(p.value, new_c.values)
