"""Measure issue 2's headline numbers: worst gradient-check error over every layer, activation and
loss; worst PyTorch parity error; digits accuracy of the 64-64-10 MLP. Run: python scripts/measure_issue2.py"""

from __future__ import annotations

import numpy as np

import glassnet as gn
from glassnet.diagnostics import check_layer, check_loss


def worst_gradient_error() -> float:
    gn.set_floatx("float64")
    rng = np.random.default_rng(0)
    x = rng.normal(size=(6, 5))
    x = np.where(np.abs(x) < 0.05, 0.5, x)
    layers = [gn.layers.Dense(3, activation=a) for a in gn.activations.names()]
    layers += [gn.layers.ReLU(), gn.layers.LeakyReLU(0.1), gn.layers.PReLU(), gn.layers.ELU(), gn.layers.SELU(),
               gn.layers.Sigmoid(), gn.layers.Tanh(), gn.layers.Softmax()]
    worst = max(check_layer(layer, x).max_relative_error for layer in layers)
    y = rng.integers(0, 2, size=(6, 3)).astype(float)
    p = rng.uniform(0.1, 0.9, size=(6, 3))
    onehot = np.eye(3)[rng.integers(0, 3, 6)]
    for loss, yt in [("mse", y), ("huber", y), ("binary_crossentropy", y), ("categorical_crossentropy", onehot),
                     ("hinge", y), ("perceptron", y)]:
        worst = max(worst, check_loss(gn.losses.get(loss), yt, p).max_relative_error)
    gn.set_floatx("float32")
    return worst


def worst_parity_error() -> float:
    """Max relative difference to PyTorch (float64) over activation outputs and input gradients,
    loss values and loss gradients."""
    import torch

    torch.set_default_dtype(torch.float64)
    gn.set_floatx("float64")
    F = torch.nn.functional
    rng = np.random.default_rng(1)
    x = rng.normal(size=(7, 4)) * 3
    x = np.where(np.abs(x) < 0.05, 0.5, x)
    g = rng.normal(size=x.shape)

    def rel(a: np.ndarray, b: np.ndarray) -> float:
        return float(np.max(np.abs(a - b) / np.maximum(np.abs(b), 1e-300)))

    worst = 0.0
    pairs = [("relu", F.relu), ("sigmoid", torch.sigmoid), ("tanh", torch.tanh), ("elu", F.elu),
             ("selu", F.selu), ("softmax", lambda t: F.softmax(t, -1))]
    for name, ref in pairs:
        layer = gn.layers.Activation(name)
        y = layer.forward(x, training=True)
        gx = layer.backward(g)
        xt = torch.tensor(x, requires_grad=True)
        yt = ref(xt)
        yt.backward(torch.tensor(g))
        nz = np.abs(gx) > 1e-12
        worst = max(worst, rel(y, yt.detach().numpy()), rel(gx[nz], xt.grad.numpy()[nz]))
    p = rng.uniform(0.05, 0.95, size=(6, 3))
    yb = rng.integers(0, 2, size=(6, 3)).astype(float)
    for loss, ref in [(gn.losses.MeanSquaredError(), F.mse_loss), (gn.losses.BinaryCrossentropy(),
                      F.binary_cross_entropy), (gn.losses.Huber(), F.huber_loss)]:
        pt = torch.tensor(p, requires_grad=True)
        value = ref(pt, torch.tensor(yb))
        value.backward()
        worst = max(worst, abs(loss(yb, p) - value.item()) / abs(value.item()),
                    rel(loss.gradient(yb, p), pt.grad.numpy()))
    gn.set_floatx("float32")
    return worst


def digits_accuracy() -> float:
    gn.set_seed(0)
    x, y = gn.datasets.load_digits()
    x = x.reshape(len(x), -1).astype(np.float32) / 16.0
    order = np.random.default_rng(0).permutation(len(x))
    model = gn.Sequential([gn.layers.Dense(64, activation="relu", kernel_initializer="he_normal"),
                           gn.layers.Dense(10, activation="softmax")])
    model.compile(optimizer=gn.optimizers.SGD(learning_rate=0.05, momentum=0.9),
                  loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(x[order[:1400]], y[order[:1400]], epochs=20, verbose=0, seed=0)
    return model.evaluate(x[order[1400:]], y[order[1400:]])["accuracy"]


if __name__ == "__main__":
    print(f"worst gradient-check relative error: {worst_gradient_error():.2e}")
    print(f"worst PyTorch parity relative error (activations, losses): {worst_parity_error():.2e}")
    print(f"digits held-out accuracy (64-64-10, 20 epochs SGD momentum): {digits_accuracy():.4f}")
