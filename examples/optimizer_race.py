"""Optimizer race: steps each optimizer needs to reach a loss threshold, on two problems.

1. The bundled digits (64 -> 32 relu -> 10 softmax, mini-batches of 32, same initial weights and the
   same batch order for every optimizer); the loss is the cross-entropy on the whole training set,
   measured after every step.
2. An ill-conditioned quadratic f(w) = 0.5 w^T A w in 20 dimensions, eigenvalues of A spread
   log-uniformly over [0.01, 1] (condition number 100), rotated so its axes are not the coordinate
   axes; exact gradients, threshold f(w) <= 1e-4 f(w_0).

Each optimizer runs at its library default learning rate and over a grid of learning rates; the table
reports steps to the threshold for the default and for the best rate of the grid (fewest steps; ties
broken by the lower final loss). Usage:

    python examples/optimizer_race.py --out docs/optimizer_race.png
"""

from __future__ import annotations

import argparse
import math
import os
import time
from collections.abc import Callable

# The matrices here are small: one BLAS thread is fastest and does not fight other processes for cores.
for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import numpy as np  # noqa: E402

import glassnet as gn  # noqa: E402

OPTIMIZERS: dict[str, Callable[[float | None], gn.optimizers.Optimizer]] = {
    "SGD": lambda lr: gn.optimizers.SGD(**_lr(lr)),
    "SGD momentum 0.9": lambda lr: gn.optimizers.SGD(momentum=0.9, **_lr(lr)),
    "SGD Nesterov 0.9": lambda lr: gn.optimizers.SGD(momentum=0.9, nesterov=True, **_lr(lr)),
    "Adagrad": lambda lr: gn.optimizers.Adagrad(**_lr(lr)),
    "RMSprop": lambda lr: gn.optimizers.RMSprop(**_lr(lr)),
    "Adam": lambda lr: gn.optimizers.Adam(**_lr(lr)),
    "AdamW": lambda lr: gn.optimizers.AdamW(**_lr(lr)),
    "Nadam": lambda lr: gn.optimizers.Nadam(**_lr(lr)),
}
DIGITS_GRID = [0.001, 0.003, 0.01, 0.03, 0.1, 0.3]
QUADRATIC_GRID = [10.0**k for k in np.arange(-3.0, 0.6, 0.5)] + [1.5, 1.9]
DIGITS_THRESHOLD, DIGITS_EPOCHS = 0.1, 20
QUADRATIC_THRESHOLD, QUADRATIC_STEPS = 1e-4, 3000


def _lr(lr: float | None) -> dict[str, float]:
    return {} if lr is None else {"learning_rate": lr}


class _FullLoss(gn.callbacks.Callback):
    """Records the loss on the whole training set after every step; can stop at the threshold."""

    def __init__(self, x: np.ndarray, y: np.ndarray, stop_below: float | None) -> None:
        super().__init__()
        self.x, self.y, self.stop_below, self.losses = x, y, stop_below, []

    def on_batch_end(self, batch: int, logs: dict | None = None) -> None:
        self.losses.append(self.model.loss(self.y, self.model.forward(self.x)))
        if self.stop_below is not None and self.losses[-1] <= self.stop_below:
            self.model.stop_training = True  # takes effect at the end of the epoch


def digits_curve(
    make: Callable[[], gn.optimizers.Optimizer], weights: list, x, y, stop_below: float | None = None
) -> np.ndarray:
    model = gn.Sequential(
        [gn.layers.Input(shape=(64,)), gn.layers.Dense(32, activation="relu"), gn.layers.Dense(10, "softmax")]
    )
    model.set_weights(weights)
    model.compile(optimizer=make(), loss="sparse_categorical_crossentropy")
    recorder = _FullLoss(x, y, stop_below)
    model.fit(x, y, epochs=DIGITS_EPOCHS, batch_size=32, seed=0, verbose=0, callbacks=[recorder])
    return np.array(recorder.losses)


def quadratic_problem(seed: int = 0, dim: int = 20) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    q, _ = np.linalg.qr(rng.normal(size=(dim, dim)))
    A = q @ np.diag(np.logspace(-2, 0, dim)) @ q.T
    return A, rng.normal(size=dim)


def quadratic_curve(
    make: Callable[[], gn.optimizers.Optimizer],
    A: np.ndarray,
    w0: np.ndarray,
    stop_below: float | None = None,
) -> np.ndarray:
    w = gn.Parameter(w0.copy(), name="w")
    optimizer, losses = make(), np.empty(QUADRATIC_STEPS)
    f0 = 0.5 * w0 @ A @ w0
    for step in range(QUADRATIC_STEPS):
        w.grad[...] = A @ w.value
        optimizer.step([w])
        losses[step] = 0.5 * w.value @ A @ w.value / f0
        if not math.isfinite(losses[step]) or losses[step] > 1e6:
            losses[step:] = np.inf  # diverged
            break
        if stop_below is not None and losses[step] <= stop_below:
            return losses[: step + 1]
    return losses


def steps_to(curve: np.ndarray, threshold: float) -> int | None:
    hits = np.flatnonzero(curve <= threshold)
    return int(hits[0]) + 1 if hits.size else None


def race(curve_of: Callable[..., np.ndarray], grid: list[float], threshold: float) -> dict:
    """Per optimizer: the full curve at the default rate, and at the grid rate that reaches the
    threshold first (grid runs stop at the threshold; runs that never reach it compare by final loss)."""
    results = {}
    for name, factory in OPTIMIZERS.items():
        default = curve_of(lambda f=factory: f(None))
        runs = {lr: curve_of(lambda f=factory, lr=lr: f(lr), stop_below=threshold) for lr in grid}
        best_lr = min(runs, key=lambda lr: (steps_to(runs[lr], threshold) or 10**9, runs[lr][-1]))
        best = curve_of(lambda f=factory, lr=best_lr: f(lr))
        reached = sum(steps_to(curve, threshold) is not None for curve in runs.values())
        results[name] = {"default": default, "best_lr": best_lr, "best": best, "reached": reached}
    return results


def _fmt(steps: int | None, limit: int) -> str:
    return str(steps) if steps is not None else f"> {limit}"


def table(results: dict, threshold: float, limit: int, title: str, n_rates: int) -> str:
    lines = [
        f"{title} (steps until the loss <= {threshold:g}; at most {limit} steps)",
        "",
        "| optimizer | default lr: steps | final loss | best lr | best lr: steps | final loss "
        "| rates reaching |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for name, r in results.items():
        lr_default = OPTIMIZERS[name](None).learning_rate
        lines.append(
            f"| {name} (lr {lr_default:g}) | {_fmt(steps_to(r['default'], threshold), limit)} | "
            f"{r['default'][-1]:.3g} | {r['best_lr']:.3g} | {_fmt(steps_to(r['best'], threshold), limit)} | "
            f"{r['best'][-1]:.3g} | {r['reached']}/{n_rates} |"
        )
    return "\n".join(lines)


def plot(digits: dict, quadratic: dict, path: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(2, 2, figsize=(13, 9), sharex="col")
    panels = [
        (axes[0, 0], digits, "default", "digits MLP, default learning rates", DIGITS_THRESHOLD),
        (axes[1, 0], digits, "best", "digits MLP, best learning rate of the grid", DIGITS_THRESHOLD),
        (
            axes[0, 1],
            quadratic,
            "default",
            "quadratic (cond. 100), default learning rates",
            QUADRATIC_THRESHOLD,
        ),
        (axes[1, 1], quadratic, "best", "quadratic (cond. 100), best learning rate", QUADRATIC_THRESHOLD),
    ]
    for ax, results, key, title, threshold in panels:
        for name, r in results.items():
            label = name if key == "default" else f"{name} (lr {r['best_lr']:.3g})"
            ax.plot(np.arange(1, len(r[key]) + 1), r[key], label=label, linewidth=1.2)
        ax.axhline(threshold, color="black", linestyle=":", linewidth=1)
        ax.set_yscale("log")
        if results is quadratic:
            ax.set_ylim(1e-12, 1e3)
        ax.set_title(title)
        ax.legend(fontsize=7)
    for ax in axes[1]:
        ax.set_xlabel("step")
    axes[0, 0].set_ylabel("training cross-entropy")
    axes[0, 1].set_ylabel("f(w) / f(w0)")
    fig.tight_layout()
    fig.savefig(path, dpi=90)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="optimizer_race.png", help="where to write the plot")
    args = parser.parse_args()
    start = time.perf_counter()
    x, y = gn.datasets.load_digits()
    x = (x.reshape(len(x), -1) / 16.0).astype(np.float32)
    gn.set_seed(0)
    init = gn.Sequential(
        [gn.layers.Input(shape=(64,)), gn.layers.Dense(32, activation="relu"), gn.layers.Dense(10, "softmax")]
    )
    weights = init.get_weights()
    digits = race(lambda make, **kw: digits_curve(make, weights, x, y, **kw), DIGITS_GRID, DIGITS_THRESHOLD)
    A, w0 = quadratic_problem()
    quadratic = race(
        lambda make, **kw: quadratic_curve(make, A, w0, **kw), QUADRATIC_GRID, QUADRATIC_THRESHOLD
    )
    steps_per_epoch = -(-len(x) // 32)
    print(
        table(
            digits, DIGITS_THRESHOLD, DIGITS_EPOCHS * steps_per_epoch, "Digits MLP 64-32-10", len(DIGITS_GRID)
        )
    )
    print()
    print(
        table(
            quadratic,
            QUADRATIC_THRESHOLD,
            QUADRATIC_STEPS,
            "Quadratic, condition number 100",
            len(QUADRATIC_GRID),
        )
    )
    plot(digits, quadratic, args.out)
    print(f"\nplot written to {args.out}; {time.perf_counter() - start:.1f} s")


if __name__ == "__main__":
    main()
