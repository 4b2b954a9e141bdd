"""glassnet, timed through its public API exactly as a user calls it: ``fit(..., verbose=0)``, ``predict``."""

from __future__ import annotations

import gc
import time
from typing import Any

import numpy as np

import glassnet as gn
from bench.workloads import Workload


def _optimizer(w: Workload, name: str) -> Any:
    if name == "adam":
        return gn.optimizers.get({"class_name": "Adam", "config": {"learning_rate": w.learning_rate}})
    momentum = 0.9 if name == "sgd_momentum" else 0.0
    return gn.optimizers.SGD(learning_rate=w.learning_rate, momentum=momentum)


def build_convnet(w: Workload, optimizer: str) -> gn.Sequential:
    """Keras' mnist_convnet (W6, W7)."""
    L = gn.layers
    model = gn.Sequential([
        L.Input(shape=(28, 28, 1)), L.Conv2D(32, 3, activation="relu"), L.MaxPooling2D(2),
        L.Conv2D(64, 3, activation="relu"), L.MaxPooling2D(2), L.Flatten(), L.Dropout(0.5),
        L.Dense(w.n_out, activation="softmax"),
    ])
    model.compile(optimizer=_optimizer(w, optimizer), loss="sparse_categorical_crossentropy")
    return model


def build_gpt(w: Workload, optimizer: str) -> Any:
    """W9: one-hot tokens -> bias-free Dense (= an embedding lookup; glassnet's Embedding comes from the
    recurrent branch) -> PositionalEmbedding -> pre-LN causal blocks -> LayerNorm -> Dense logits."""
    L = gn.layers
    d = w.hidden[0]
    x_in = L.Input(shape=(w.seq_len, w.n_in))
    h = L.PositionalEmbedding(w.seq_len, d)(L.Dense(d, use_bias=False)(x_in))
    for _ in range(w.n_blocks):
        h = L.TransformerDecoderBlock(w.n_heads, d // w.n_heads, w.ff_dim, activation={
            "class_name": "GELU", "config": {"approximate": "tanh"}})(h)
    model = gn.Model(inputs=x_in, outputs=L.Dense(w.n_out)(L.LayerNormalization(epsilon=1e-5)(h)))
    model.compile(optimizer=_optimizer(w, optimizer), loss=gn.losses.SparseCategoricalCrossentropy(from_logits=True))
    return model


def one_hot(tokens: np.ndarray, vocabulary: int) -> np.ndarray:
    """(n, T) int tokens -> (n, T, vocabulary) float32."""
    return np.eye(vocabulary, dtype=np.float32)[tokens]


def build(w: Workload, optimizer: str) -> Any:
    if w.kind == "gpt":
        return build_gpt(w, optimizer)
    if w.model == "convnet":
        return build_convnet(w, optimizer)
    if w.recurrent is not None:
        return _build_recurrent(w, optimizer)
    layers: list[Any] = [gn.layers.Input(shape=(w.n_in,))]
    for units in w.hidden:
        if w.batchnorm_dropout is None:
            layers.append(gn.layers.Dense(units, activation="relu"))
        else:
            layers += [
                gn.layers.Dense(units),
                gn.layers.BatchNormalization(),
                gn.layers.ReLU(),
                gn.layers.Dropout(w.batchnorm_dropout),
            ]
    out = "sigmoid" if w.task == "binary" else "softmax"
    layers.append(gn.layers.Dense(w.n_out, activation=out))
    model = gn.Sequential(layers)
    loss = "binary_crossentropy" if w.task == "binary" else "sparse_categorical_crossentropy"
    model.compile(optimizer=_optimizer(w, optimizer), loss=loss)
    return model


def _build_recurrent(w: Workload, optimizer: str) -> gn.Sequential:
    cell = {"lstm": gn.layers.LSTM, "gru": gn.layers.GRU}[w.recurrent or ""]
    model = gn.Sequential([gn.layers.Input(shape=(w.timesteps, w.n_in)), cell(w.hidden[0]),
                           gn.layers.Dense(w.n_out, activation="softmax")])
    model.compile(optimizer=_optimizer(w, optimizer), loss="sparse_categorical_crossentropy")
    return model


def train(w: Workload, x: np.ndarray, y: np.ndarray, optimizer: str, seed: int) -> dict[str, float]:
    if w.recurrent is not None:
        x = x.reshape(len(x), w.timesteps, w.n_in)  # a view: (samples, steps, features per step)
    gn.set_seed(seed)
    if w.kind == "gpt":
        x = one_hot(x, w.n_in)
    warm = build(w, optimizer)  # first-call costs (imports, page faults) kept out of the timing
    warm.fit(x[: 4 * w.batch_size], y[: 4 * w.batch_size], epochs=1, batch_size=w.batch_size, verbose=0, seed=seed)
    del warm
    gc.collect()  # the same for every implementation: no warm-up model left in memory
    model = build(w, optimizer)
    start = time.perf_counter()
    history = model.fit(x, y, epochs=1, batch_size=w.batch_size, verbose=0, seed=seed)
    seconds = time.perf_counter() - start
    return {"epoch_s": seconds, "final_loss": float(history.history["loss"][-1])}


def infer(w: Workload, x: np.ndarray, repeats: int) -> dict[str, float]:
    gn.set_seed(0)
    model = build(w, "sgd")
    one = x[:1]
    for _ in range(20):
        model.predict(one)
    times = []
    for i in range(repeats):
        sample = x[i % len(x) : i % len(x) + 1]
        start = time.perf_counter()
        model.predict(sample)
        times.append(time.perf_counter() - start)
    model.predict(x)
    batch = []
    for _ in range(7):
        start = time.perf_counter()
        model.predict(x)
        batch.append(time.perf_counter() - start)
    return {"latency_s": float(np.median(times)), "batch_s": float(np.median(batch))}
