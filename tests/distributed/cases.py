"""Models and data sets that the distributed tests train with 1 process (in pytest) and under mpiexec."""

from __future__ import annotations

from typing import Any

import numpy as np

import glassnet as gn


def make(case: str) -> tuple[Any, np.ndarray, np.ndarray, dict[str, Any]]:
    """(model, x, y, fit keyword arguments) for ``case``; float64, everything seeded."""
    gn.set_floatx("float64")
    gn.set_seed(0)  # the initial weights
    gn.backend.clear_session()  # the same layer names in every process and every call
    rng = np.random.default_rng(7)
    if case in ("mlp", "mlp_uneven", "mlp_local_bn"):
        n = 203 if case == "mlp_uneven" else 192
        x = rng.normal(size=(n, 10))
        y = (x[:, :3].sum(axis=1) > 0).astype(int) + (x[:, 3] > 0.5).astype(int)
        model = gn.Sequential([
            gn.layers.Input((10,)),
            gn.layers.Dense(16, activation="relu"),
            gn.layers.BatchNormalization(momentum=0.9),
            gn.layers.Dropout(0.3),
            gn.layers.Dense(12, activation="tanh"),
            gn.layers.Dropout(0.2),
            gn.layers.Dense(3, activation="softmax"),
        ])
        model.compile(optimizer=gn.optimizers.Adam(0.01), loss="sparse_categorical_crossentropy",
                      metrics=["accuracy"])
        fit_args = {"epochs": 3, "batch_size": 32, "seed": 3, "validation_split": 0.1,
                    "sync_batch_norm": case != "mlp_local_bn"}
        return model, x, y, fit_args
    if case == "conv_standin":
        # A stand-in for the CNN (conv layers are not on this branch): Dense on (batch, 6, 6, 3) inputs is a
        # 1x1 convolution, BatchNormalization then normalizes over batch and positions, as after a conv.
        n = 150
        x = rng.normal(size=(n, 6, 6, 3))
        y = np.tanh(x @ rng.normal(size=(3, 2)))
        model = gn.Sequential([
            gn.layers.Input((6, 6, 3)),
            gn.layers.Dense(8, activation="relu"),
            gn.layers.BatchNormalization(momentum=0.8),
            gn.layers.Dropout(0.25),
            gn.layers.Dense(2),
        ])
        model.compile(optimizer=gn.optimizers.SGD(0.05, momentum=0.9), loss="mse", metrics=["mae"])
        fit_args = {"epochs": 3, "batch_size": 25, "seed": 11, "sync_batch_norm": True}
        return model, x, y, fit_args
    if case == "cnn":
        # A small mnist_convnet: Conv2D, BatchNormalization over batch and positions, pooling, Dropout.
        n = 100  # 90 training rows: 4 batches of 20 and one of 10
        x = rng.normal(size=(n, 10, 10, 1))
        y = (x[:, :5].sum(axis=(1, 2, 3)) > x[:, 5:].sum(axis=(1, 2, 3))).astype(int)
        model = gn.Sequential([
            gn.layers.Input((10, 10, 1)),
            gn.layers.Conv2D(4, 3, activation="relu"),
            gn.layers.BatchNormalization(momentum=0.9),
            gn.layers.MaxPooling2D(2),
            gn.layers.Conv2D(6, 3, activation="relu"),
            gn.layers.Flatten(),
            gn.layers.Dropout(0.3),
            gn.layers.Dense(2, activation="softmax"),
        ])
        model.compile(optimizer=gn.optimizers.Adam(0.01), loss="sparse_categorical_crossentropy",
                      metrics=["accuracy"])
        fit_args = {"epochs": 3, "batch_size": 20, "seed": 5, "validation_split": 0.1, "sync_batch_norm": True}
        return model, x, y, fit_args
    raise ValueError(f"unknown case {case!r}")
