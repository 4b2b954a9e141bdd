"""Experiments 4-6: initialization, loss functions, activations (see ``experiments``)."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from ... import backend, initializers, optimizers
from ..._typing import Array
from ...diagnostics.monitor import GradientMonitor
from ...layers import Dense, Input
from ...models import Sequential
from .core import ExperimentResult, _figure, _finding_names, _save, load_digits_flat, mlp

INITS = {
    "N(0, 1)": initializers.RandomNormal(0.0, 1.0),
    "Xavier": initializers.GlorotNormal(),
    "He": initializers.HeNormal(),
}


def activation_stds(
    activation: str, init: initializers.Initializer, depth: int = 10, width: int = 256, seed: int = 0
) -> list[float]:
    """Std of each layer's output for x ~ N(0, 1) (512 x ``width``) through ``depth`` Dense layers."""
    rng = np.random.default_rng(seed)
    a = rng.standard_normal((512, width))
    stds = []
    with backend.using_generator(rng):
        for _ in range(depth):
            layer = Dense(width, activation=activation, kernel_initializer=init)
            layer.build((width,))
            a = layer.forward(a.astype(layer.dtype))
            stds.append(float(a.std()))
    return stds


def initialization(out: Path) -> ExperimentResult:
    """Activation std per layer for tanh and ReLU nets under N(0, 1), Xavier and He (forward only)."""
    stds = {(act, name): activation_stds(act, init) for act in ("tanh", "relu") for name, init in INITS.items()}
    rows = [[i + 1, *(s[i] for s in stds.values())] for i in range(10)]
    fig, axes = _figure(2)
    for ax, act in zip(axes, ("tanh", "relu"), strict=True):
        for name in INITS:
            ax.semilogy(np.arange(1, 11), stds[(act, name)], "o-", label=name)
        ax.set(
            xlabel="layer",
            ylabel="std of the layer's output",
            title=f"{act}, 256 units per layer, x ~ N(0, 1)",
        )
        ax.legend()
    notes = [
        "tanh: N(0, 1) saturates (std near 1, outputs at +-1), Xavier keeps a slowly shrinking std, "
        "He is larger than Xavier by sqrt(2) in the weights",
        "relu: N(0, 1) grows by about sqrt(256 / 2) = 11x per layer, He keeps the std constant, "
        "Xavier halves the variance per layer",
    ]
    columns = ["layer", *(f"{act} {name}" for act, name in stds)]
    return ExperimentResult(
        "initialization",
        "Experiment 4: activation std per layer by initialization",
        columns,
        rows,
        notes,
        _save(fig, out, "initialization"),
    )


def regression_with_outliers(n: int = 200, fraction: float = 0.1, seed: int = 0) -> tuple[Array, Array]:
    """y = 3 x + 2 + N(0, 0.3^2) for x ~ U(-2, 2); a ``fraction`` of the targets shifted up by 10 to 20."""
    rng = np.random.default_rng(seed)
    x = rng.uniform(-2.0, 2.0, size=(n, 1))
    y = 3.0 * x[:, 0] + 2.0 + rng.normal(0.0, 0.3, size=n)
    outliers = rng.permutation(n)[: int(fraction * n)]
    y[outliers] += rng.uniform(10.0, 20.0, size=len(outliers))
    return x.astype(np.float32), y.astype(np.float32)


def losses(out: Path) -> ExperimentResult:
    """Fit y = w x + b with MSE, MAE and Huber on data with 10% one-sided outliers."""
    x, y = regression_with_outliers()
    grid = np.linspace(-2.0, 2.0, 50, dtype=np.float32).reshape(-1, 1)
    rows, lines = [], {}
    for loss in ("mean_squared_error", "mean_absolute_error", "huber"):
        with backend.using_generator(np.random.default_rng(0)):
            model = Sequential([Input(shape=(1,)), Dense(1)])
        model.compile(optimizer=optimizers.SGD(0.05, momentum=0.9), loss=loss)
        model.fit(x, y, epochs=200, batch_size=32, verbose=0, seed=0)
        w, b = (float(v.ravel()[0]) for v in model.get_weights())
        clean_mse = float(np.mean((model.predict(grid)[:, 0] - (3.0 * grid[:, 0] + 2.0)) ** 2))
        rows.append([loss, w, b, clean_mse])
        lines[loss] = model.predict(grid)[:, 0]
    fig, (ax,) = _figure(1, 6.0)
    ax.scatter(x[:, 0], y, s=8, color="0.6", label="data (10% outliers)")
    ax.plot(grid[:, 0], 3.0 * grid[:, 0] + 2.0, "k--", label="true line y = 3x + 2")
    for loss, pred in lines.items():
        ax.plot(grid[:, 0], pred, label=loss)
    ax.set(xlabel="x", ylabel="y", title="Linear fit under three losses")
    ax.legend(fontsize=8)
    notes = [
        "MSE is pulled toward the outliers (its gradient grows with the error); MAE and Huber "
        "(gradient bounded by 1 and delta = 1) stay near the true line",
        "SGD(0.05, momentum 0.9), 200 epochs, batch 32, 200 points",
    ]
    return ExperimentResult(
        "losses",
        "Experiment 5: MSE vs MAE vs Huber with outliers",
        ["loss", "slope (true 3)", "intercept (true 2)", "MSE to the true line"],
        rows,
        notes,
        _save(fig, out, "losses"),
    )


ACTIVATIONS = ("sigmoid", "tanh", "relu", "leaky_relu", "elu", "selu")


def activations(out: Path, epochs: int = 15) -> ExperimentResult:
    """The same 7-layer MLP (6 hidden x 64, Glorot uniform init) with each activation on digits."""
    x, y = load_digits_flat()
    rng = np.random.default_rng(0)
    order = rng.permutation(len(x))
    x, y = x[order], y[order]
    rows = []
    fig, (ax,) = _figure(1, 6.0)
    for act in ACTIVATIONS:
        model = mlp(7, 64, act, "glorot_uniform", seed=0)
        model.compile(
            optimizer=optimizers.SGD(0.05, momentum=0.9),
            loss="sparse_categorical_crossentropy",
            metrics=["accuracy"],
        )
        start = time.perf_counter()
        with np.errstate(all="ignore"):  # a diverging arm (NaN) is a result here, reported by its finding
            h = model.fit(
                x,
                y,
                epochs=epochs,
                batch_size=32,
                validation_split=0.2,
                verbose=0,
                seed=0,
                callbacks=[GradientMonitor(probe=x[:256])],
            )
        seconds = time.perf_counter() - start
        acc = h.history["val_accuracy"]
        ax.plot(np.arange(1, len(acc) + 1), acc, "o-", markersize=3, label=act)
        rows.append([act, h.history["loss"][-1], acc[-1], seconds, _finding_names(h)])
    ax.set(
        xlabel="epoch",
        ylabel="validation accuracy",
        title="6 hidden layers x 64, Glorot uniform, SGD momentum",
    )
    ax.legend()
    notes = [
        f"SGD(0.05, momentum 0.9), batch 32, {epochs} epochs, 20% of digits held out, seed 0",
        "findings: what gn.diagnostics.diagnose reports for the run",
    ]
    return ExperimentResult(
        "activations",
        "Experiment 6: activation functions on the same deep net",
        ["activation", "train loss", "val accuracy", "seconds", "findings"],
        rows,
        notes,
        _save(fig, out, "activations"),
    )
