"""Measured effect of regularization and batch normalization (numbers reported in docs/regularization.md).

Part A, overfitting: a wide MLP on a small, noisy training set (250 digits, 20% of their labels replaced
by random ones) against a clean validation set. Compares the train/validation gap with no
regularization, Dropout(0.5), an L2 kernel penalty and EarlyStopping.

Part B, batch normalization: a deep, narrow ReLU MLP (10 hidden layers) on the digits; epochs until the
validation accuracy first reaches a target, with and without BatchNormalization after each Dense.

Every run is seeded; each setting is repeated over several seeds and the mean (and spread) reported.

    PYTHONPATH=src python examples/regularization.py           # about a minute on 2 cores
    PYTHONPATH=src python examples/regularization.py --seeds 1 # quicker look
"""

from __future__ import annotations

import argparse
import time
from typing import Any

import numpy as np

import glassnet as gn
from glassnet.callbacks import Callback, EarlyStopping
from glassnet.layers import BatchNormalization, Dense, Dropout, Input, ReLU
from glassnet.preprocessing import StandardScaler, train_test_split


def digits(seed: int) -> tuple[np.ndarray, ...]:
    """Digits split 1347 / 450 (seeded), standardized with statistics of the training part only."""
    x, y = gn.datasets.load_digits()
    x = x.reshape(len(x), -1).astype(np.float32)
    x_train, x_val, y_train, y_val = train_test_split(x, y, test_size=0.25, seed=seed)
    scaler = StandardScaler().fit(x_train)
    return scaler.transform(x_train), scaler.transform(x_val), y_train, y_val


# -- Part A: overfitting -----------------------------------------------------------------------------
def small_noisy(seed: int, n_train: int = 250, noise: float = 0.2) -> tuple[np.ndarray, ...]:
    x_train, x_val, y_train, y_val = digits(seed)
    rng = np.random.default_rng(seed)
    x_train, y_train = x_train[:n_train], y_train[:n_train].copy()
    flip = rng.random(n_train) < noise
    y_train[flip] = rng.integers(0, 10, size=int(flip.sum()))
    return x_train, x_val, y_train, y_val


def wide_mlp(dropout: float = 0.0, l2: float = 0.0) -> gn.Sequential:
    reg = gn.regularizers.L2(l2) if l2 else None
    layers: list[Any] = [Input(shape=(64,))]
    for _ in range(2):
        layers.append(Dense(128, activation="relu", kernel_initializer="he_normal", kernel_regularizer=reg))
        if dropout:
            layers.append(Dropout(dropout))
    layers.append(Dense(10, activation="softmax", kernel_regularizer=reg))
    model = gn.Sequential(layers)
    model.compile(
        gn.optimizers.SGD(learning_rate=0.02, momentum=0.9),
        "sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    return model


VARIANTS: dict[str, tuple[dict[str, float], bool]] = {
    "none": ({}, False),
    "Dropout(0.2)": ({"dropout": 0.2}, False),
    "Dropout(0.5)": ({"dropout": 0.5}, False),
    "L2(1e-3)": ({"l2": 1e-3}, False),
    "L2(1e-2)": ({"l2": 1e-2}, False),
    "EarlyStopping(patience=10)": ({}, True),
}


def overfitting_run(name: str, seed: int, epochs: int) -> dict[str, float]:
    kwargs, early = VARIANTS[name]
    x_train, x_val, y_train, y_val = small_noisy(seed)
    gn.set_seed(seed)
    model = wide_mlp(**kwargs)
    callbacks = [EarlyStopping(patience=10, restore_best_weights=True)] if early else []
    history = model.fit(
        x_train,
        y_train,
        epochs=epochs,
        batch_size=32,
        validation_data=(x_val, y_val),
        callbacks=callbacks,
        verbose=0,
        seed=seed,
    )
    train = model.evaluate(x_train, y_train)  # inference mode: no dropout, same footing for every variant
    val = model.evaluate(x_val, y_val)
    penalty = model.regularization_penalty()  # evaluate adds it to both; remove it to compare data losses
    return {
        "train_acc": train["accuracy"],
        "val_acc": val["accuracy"],
        "train_loss": train["loss"] - penalty,
        "val_loss": val["loss"] - penalty,
        "epochs": len(history.epoch),
    }


# -- Part B: batch normalization --------------------------------------------------------------------
def deep_mlp(
    batch_norm: bool, depth: int = 10, width: int = 32, learning_rate: float = 0.01
) -> gn.Sequential:
    layers: list[Any] = [Input(shape=(64,))]
    for _ in range(depth):
        layers.append(Dense(width, use_bias=not batch_norm))  # BN's beta replaces the bias
        if batch_norm:
            layers.append(BatchNormalization())
        layers.append(ReLU())
    layers.append(Dense(10, activation="softmax"))
    model = gn.Sequential(layers)
    model.compile(
        gn.optimizers.SGD(learning_rate=learning_rate, momentum=0.9),
        "sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    return model


class FirstReach(Callback):
    """Records the first epoch (1-based) whose ``monitor`` reaches ``target`` and stops training there."""

    def __init__(self, monitor: str, target: float) -> None:
        super().__init__()
        self.monitor, self.target, self.epoch = monitor, target, None

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        if (logs or {})[self.monitor] >= self.target:
            self.epoch = epoch + 1
            self.model.stop_training = True


def batchnorm_run(batch_norm: bool, seed: int, target: float, max_epochs: int, n_train: int) -> float:
    x_train, x_val, y_train, y_val = digits(seed)
    x_train, y_train = x_train[:n_train], y_train[:n_train]
    gn.set_seed(seed)
    model = deep_mlp(batch_norm)
    reach = FirstReach("val_accuracy", target)
    model.fit(
        x_train,
        y_train,
        epochs=max_epochs,
        batch_size=32,
        validation_data=(x_val, y_val),
        callbacks=[reach],
        verbose=0,
        seed=seed,
    )
    return float(reach.epoch) if reach.epoch is not None else float("inf")


# -- reporting --------------------------------------------------------------------------------------
def mean_spread(values: list[float], digits: int = 3) -> str:
    """Mean ± standard deviation over the seeds."""
    arr = np.array(values, dtype=np.float64)
    if len(arr) == 1:
        return f"{arr[0]:.{digits}f}"
    return f"{arr.mean():.{digits}f} ± {arr.std():.{digits}f}"


def table(header: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    line = lambda r: "| " + " | ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) + " |"  # noqa: E731
    return "\n".join([line(header), "|" + "|".join("-" * (w + 2) for w in widths) + "|", *map(line, rows)])


def part_a(seeds: list[int], epochs: int) -> str:
    rows = []
    for name in VARIANTS:
        runs = [overfitting_run(name, s, epochs) for s in seeds]
        values = {k: [r[k] for r in runs] for k in runs[0]}
        values["acc_gap"] = [r["train_acc"] - r["val_acc"] for r in runs]
        values["loss_gap"] = [r["val_loss"] - r["train_loss"] for r in runs]
        keys = ["train_acc", "val_acc", "acc_gap", "train_loss", "val_loss", "loss_gap"]
        rows.append([name, *(mean_spread(values[k]) for k in keys), mean_spread(values["epochs"], digits=0)])
    header = [
        "regularization",
        "train acc",
        "val acc",
        "acc gap",
        "train loss",
        "val loss",
        "loss gap",
        "epochs",
    ]
    return table(header, rows)


def part_b(seeds: list[int], target: float, max_epochs: int) -> str:
    rows = []
    for n_train in (1344, 1347):  # 1344 = 42 full batches of 32; 1347 leaves a last batch of 3 samples
        for batch_norm in (False, True):
            epochs = [batchnorm_run(batch_norm, s, target, max_epochs, n_train) for s in seeds]
            shown = ", ".join(str(int(e)) if np.isfinite(e) else f">{max_epochs}" for e in epochs)
            last = n_train % 32 or 32
            rows.append(
                [f"{n_train} ({last})", "with BatchNormalization" if batch_norm else "without", shown]
            )
    header = [
        "train samples (last batch)",
        "deep MLP (10 x Dense(32) + ReLU)",
        f"epochs to val acc >= {target}",
    ]
    return table(header, rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=5, help="repetitions per setting (seeds 0..n-1)")
    parser.add_argument("--epochs", type=int, default=100, help="epochs for part A")
    parser.add_argument("--target", type=float, default=0.9, help="validation accuracy target for part B")
    parser.add_argument("--max-epochs", type=int, default=30, help="epoch limit for part B")
    args = parser.parse_args()
    seeds = list(range(args.seeds))
    start = time.perf_counter()
    print(f"Part A: 250 digits with 20% random labels, clean validation set of 450, {args.epochs} epochs\n")
    print(part_a(seeds, args.epochs))
    print(f"\nPart B: deep MLP, SGD(0.01, momentum 0.9), batch 32, up to {args.max_epochs} epochs\n")
    print(part_b(seeds, args.target, args.max_epochs))
    print(f"\n(total {time.perf_counter() - start:.0f} s, seeds {seeds})")


if __name__ == "__main__":
    main()
