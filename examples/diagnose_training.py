"""Train a deliberately broken network with ``diagnose=True`` and read the advice.

    python examples/diagnose_training.py

A 10-layer sigmoid MLP with N(0, 0.1^2) weights (experiment 1's bad arm) on the bundled digits: the
diagnosis finds vanishing gradients in the first layer and lists the notes' remedies. The second run
applies them (ReLU + He initialization) and gets no finding.
"""

import numpy as np

import glassnet as gn

x, y = gn.datasets.load_digits()
x = x.reshape(len(x), -1).astype(np.float32) / 16.0


def mlp(activation: str, init: object) -> gn.Sequential:
    hidden = [gn.layers.Dense(32, activation=activation, kernel_initializer=init) for _ in range(9)]
    return gn.Sequential([gn.layers.Input(shape=(64,)), *hidden, gn.layers.Dense(10, activation="softmax")])


for title, model in [
    ("sigmoid, N(0, 0.1^2)", mlp("sigmoid", gn.initializers.RandomNormal(0.0, 0.1))),
    ("ReLU, He normal", mlp("relu", "he_normal")),
]:
    print(f"== {title}")
    model.compile(optimizer=gn.optimizers.SGD(0.05), loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    history = model.fit(x, y, epochs=5, batch_size=32, verbose=0, seed=0, diagnose=True)
    print(f"accuracy after 5 epochs: {history.history['accuracy'][-1]:.3f}\n")
