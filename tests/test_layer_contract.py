"""Every registered layer keeps the layer contract (``glassnet.testing.check_layer``).

A new layer is one file plus one line here: add ``"MyLayer": [dict(args=..., input_shape=...)]`` to
``CASES``. ``args`` are the constructor arguments, ``input_shape`` the shape without the batch axis (a
list of shapes for several inputs; a wrapper gives ``factory``, a function building the layer with
a fresh inner layer, instead of ``args``), and an optional ``check`` dict passes more options to
``check_layer`` (``input_dtype="int64"`` for index inputs, ``skip=[...]``, ``tolerance=...``).
"""

from __future__ import annotations

from typing import Any

import pytest

from glassnet import layers
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
    "GaussianNoise": [
        dict(args=dict(stddev=0.3, seed=0), input_shape=(5,)),
        dict(args=dict(stddev=0.0), input_shape=(3,)),
    ],
    "Sampling": [  # the harness re-seeds before every pass (fixed noise) and differentiates the KL term too
        dict(args=dict(seed=0), input_shape=[(3,), (3,)]),
        # sample=True draws in inference too, which the two unseeded inference comparisons cannot allow for
        dict(args=dict(kl_weight=0.25, sample=True), input_shape=[(2, 4), (2, 4)],
             check=dict(skip=["functional", "save_load"])),
        dict(args=dict(kl_weight=0.0), input_shape=[(2,), (2,)]),
    ],
    "BatchNormalization": [
        # one sample of a rank-1 input is one value per channel, which training refuses as PyTorch does
        # (tests/test_fit_arguments.py); the (2, 3) case runs batch_of_one
        dict(args={}, input_shape=(4,), check=dict(skip=["batch_of_one"])),
        dict(args=dict(momentum=0.9, center=False), input_shape=(2, 3)),
        dict(args=dict(scale=False, epsilon=1e-5), input_shape=(3,), check=dict(skip=["batch_of_one"])),
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
    # convolutional networks (channels last)
    "Conv2D": [
        dict(args=dict(filters=3, kernel_size=3), input_shape=(5, 6, 2)),
        dict(args=dict(filters=4, kernel_size=(2, 3), strides=2, padding="same", activation="relu"),
             input_shape=(5, 7, 2)),
        dict(args=dict(filters=4, kernel_size=3, dilation_rate=2, groups=2, use_bias=False), input_shape=(7, 7, 4)),
    ],
    "Conv1D": [
        dict(args=dict(filters=3, kernel_size=3), input_shape=(7, 2)),
        dict(args=dict(filters=2, kernel_size=2, strides=2, padding="same", activation="tanh"), input_shape=(7, 3)),
    ],
    "Conv2DTranspose": [
        dict(args=dict(filters=2, kernel_size=3), input_shape=(3, 4, 2)),
        dict(args=dict(filters=3, kernel_size=2, strides=2, padding="same"), input_shape=(3, 3, 2)),
    ],
    "MaxPooling2D": [dict(args={}, input_shape=(4, 6, 2)), dict(args=dict(pool_size=3, strides=2, padding="same"),
                                                                  input_shape=(5, 5, 2))],
    "MaxPooling1D": [dict(args={}, input_shape=(6, 2)), dict(args=dict(pool_size=3, strides=1), input_shape=(5, 2))],
    "AveragePooling2D": [dict(args={}, input_shape=(4, 4, 2)),
                         dict(args=dict(pool_size=3, strides=2, padding="same"), input_shape=(5, 5, 1))],
    "AveragePooling1D": [dict(args={}, input_shape=(6, 3)), dict(args=dict(padding="same"), input_shape=(5, 2))],
    "GlobalAveragePooling2D": [dict(args={}, input_shape=(3, 4, 2))],
    "GlobalMaxPooling2D": [dict(args={}, input_shape=(3, 4, 2))],
    "GlobalAveragePooling1D": [dict(args={}, input_shape=(5, 3))],
    "GlobalMaxPooling1D": [dict(args={}, input_shape=(5, 3))],
    "UpSampling2D": [dict(args={}, input_shape=(2, 3, 2)), dict(args=dict(size=(1, 3)), input_shape=(2, 2, 1))],
    "ZeroPadding2D": [dict(args={}, input_shape=(2, 3, 2)), dict(args=dict(padding=((1, 0), (2, 1))),
                                                                  input_shape=(2, 2, 1))],
    "SpatialDropout2D": [dict(args=dict(rate=0.5, seed=0), input_shape=(3, 3, 4))],
    # reshaping
    "Flatten": [dict(args={}, input_shape=(2, 3, 2))],
    "Reshape": [dict(args=dict(target_shape=(3, -1)), input_shape=(6,))],
    "Permute": [dict(args=dict(dims=(2, 1)), input_shape=(3, 4))],
    "RepeatVector": [dict(args=dict(n=3), input_shape=(4,))],
    # recurrent networks (batch, timesteps, features)
    "SimpleRNN": [dict(args=dict(units=3), input_shape=(4, 2)),
                  dict(args=dict(units=2, return_sequences=True, go_backwards=True), input_shape=(3, 2))],
    "LSTM": [dict(args=dict(units=3), input_shape=(4, 2)),
             dict(args=dict(units=2, return_sequences=True), input_shape=(3, 3))],
    "GRU": [dict(args=dict(units=3), input_shape=(4, 2)),
            dict(args=dict(units=2, reset_after=False, return_sequences=True), input_shape=(3, 2))],
    "Embedding": [dict(args=dict(input_dim=5, output_dim=3), input_shape=(4,), check=dict(input_dtype="int64"))],
    "Bidirectional": [dict(factory=lambda: layers.Bidirectional(layers.LSTM(2)), input_shape=(3, 2)),
                      dict(factory=lambda: layers.Bidirectional(layers.GRU(2, return_sequences=True), merge_mode="sum"),
                           input_shape=(3, 2))],
    "TimeDistributed": [dict(factory=lambda: layers.TimeDistributed(layers.Dense(3, activation="tanh")),
                             input_shape=(4, 2))],
    # transformers
    "GELU": [dict(args={}, input_shape=(4,)), dict(args=dict(approximate="tanh"), input_shape=(2, 3))],
    "Swish": [dict(args={}, input_shape=(4,))],
    "Softplus": [dict(args={}, input_shape=(4,))],
    "MultiHeadAttention": [dict(args=dict(num_heads=2, key_dim=3), input_shape=[(4, 5), (3, 5)]),
                           dict(args=dict(num_heads=1, key_dim=2, value_dim=3, output_shape=4),
                                input_shape=[(2, 3), (2, 3), (2, 3)])],
    "PositionalEmbedding": [dict(args=dict(sequence_length=4, output_dim=3), input_shape=(4, 3))],
    "SinusoidalPositionalEncoding": [dict(args={}, input_shape=(5, 4))],
    "PatchEmbedding": [dict(args=dict(patch_size=2, output_dim=3), input_shape=(4, 4, 2))],
    "TransformerEncoderBlock": [dict(args=dict(num_heads=2, key_dim=2, ff_dim=6), input_shape=(3, 4)),
                                dict(args=dict(num_heads=1, key_dim=4, ff_dim=5, norm_first=False,
                                               activation="relu"), input_shape=(3, 4))],
    "TransformerDecoderBlock": [dict(args=dict(num_heads=2, key_dim=2, ff_dim=6), input_shape=(3, 4)),
                                dict(args=dict(num_heads=2, key_dim=2, ff_dim=6), input_shape=[(3, 4), (5, 4)])],
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
    factory = case.get("factory") or (lambda: cls(**case["args"]))  # wrappers: a fresh inner layer each time
    check_layer(factory, case["input_shape"], **case.get("check", {}))
