"""Every registered layer keeps the layer contract (``glassnet.testing.check_layer``).

A new layer is one file plus one line here: add ``"MyLayer": [dict(args=..., input_shape=...)]`` to
``CASES``. ``args`` are the constructor arguments, ``input_shape`` the shape without the batch axis (a
list of shapes for several inputs), and an optional ``check`` dict passes more options to
``check_layer`` (``input_dtype="int64"`` for index inputs, ``skip=[...]``, ``tolerance=...``).
"""

from __future__ import annotations

from typing import Any

import pytest

from glassnet.activations import ACTIVATIONS
from glassnet.layers import LAYERS
from glassnet.models import Model
from glassnet.testing import check_layer

CASES: dict[str, list[dict[str, Any]]] = {
    "Dense": [
        dict(args=dict(units=3), input_shape=(4,)),
        dict(args=dict(units=3, activation="relu"), input_shape=(4,)),
        dict(args=dict(units=4, activation="softmax"), input_shape=(5,)),
        dict(args=dict(units=2, activation="sigmoid", use_bias=False, kernel_regularizer="l2"), input_shape=(3,)),
        dict(args=dict(units=3, activation="tanh"), input_shape=(2, 4)),
        dict(args=dict(units=20), input_shape=(30,)),  # 600-value kernel: random directions
    ],
    "Activation": [  # every registered activation function, by class name
        *[dict(args=dict(activation=name), input_shape=(4,)) for name in ACTIVATIONS.class_names()],
        dict(args=dict(activation="softmax"), input_shape=(2, 5)),
    ],
    "ReLU": [dict(args={}, input_shape=(5,))],
    "LeakyReLU": [dict(args=dict(alpha=0.2), input_shape=(5,))],
    "PReLU": [dict(args={}, input_shape=(4,)), dict(args=dict(alpha_initializer=0.1), input_shape=(2, 3))],
    "ELU": [dict(args=dict(alpha=0.7), input_shape=(5,))],
    "Sigmoid": [dict(args={}, input_shape=(4,))],
    "Tanh": [dict(args={}, input_shape=(4,))],
    "SELU": [dict(args={}, input_shape=(4,))],
    "Softmax": [dict(args={}, input_shape=(4,)), dict(args={}, input_shape=(2, 3))],
    "Dropout": [dict(args=dict(rate=0.5, seed=0), input_shape=(6,)), dict(args=dict(rate=0.0), input_shape=(3,))],
    "BatchNormalization": [
        dict(args={}, input_shape=(4,)),
        dict(args=dict(momentum=0.9, center=False), input_shape=(2, 3)),
        dict(args=dict(scale=False, epsilon=1e-5), input_shape=(3,)),
    ],
    "LayerNormalization": [
        dict(args={}, input_shape=(5,)),
        dict(args=dict(center=False), input_shape=(2, 4)),
        dict(args=dict(scale=False), input_shape=(4,)),
    ],
    "Add": [dict(args={}, input_shape=[(3,), (3,)]), dict(args={}, input_shape=[(2, 3), (2, 3), (2, 3)])],
    "Multiply": [dict(args={}, input_shape=[(3,), (3,)]), dict(args={}, input_shape=[(4,), (4,), (4,)])],
    "Concatenate": [
        dict(args={}, input_shape=[(2,), (3,)]),
        dict(args=dict(axis=1), input_shape=[(2, 3), (1, 3), (3, 3)]),
    ],
}

NOT_LAYERS_UNDER_TEST = {"Input"}  # declares a shape, computes nothing


def built_in_layers() -> dict[str, type]:
    """Registered layer classes of glassnet itself (models are checked by their own tests)."""
    return {
        name: cls
        for name, cls in LAYERS.classes().items()
        if cls.__module__.startswith("glassnet.") and not issubclass(cls, Model) and name not in NOT_LAYERS_UNDER_TEST
    }


def test_every_registered_layer_has_a_contract_case():
    missing = sorted(set(built_in_layers()) - set(CASES))
    assert not missing, (
        f"layers without a contract case: {missing}; add a line such as "
        f'"{missing[0]}": [dict(args=dict(...), input_shape=(4,))] to CASES in tests/test_layer_contract.py'
    )
    stale = sorted(set(CASES) - set(built_in_layers()))
    assert not stale, f"CASES lists {stale}, which are not registered layers; remove or rename them"


PARAMS = [pytest.param(name, case, id=f"{name}-{k}") for name, cases in CASES.items() for k, case in enumerate(cases)]


@pytest.mark.parametrize(("name", "case"), PARAMS)
def test_layer_keeps_the_contract(name: str, case: dict[str, Any]):
    cls = LAYERS.classes()[name]
    check_layer(lambda: cls(**case["args"]), case["input_shape"], **case.get("check", {}))
