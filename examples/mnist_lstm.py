"""Row-wise MNIST: each 28x28 image read as 28 time steps of 28 pixels, LSTM(128) then Dense(10).

Adam 1e-3, batch 128, global_clipnorm 1.0; test accuracy after every epoch (issue 13 target: >= 98.5%).
Usage (numbers in docs/recurrent.md):

    PYTHONPATH=src python examples/mnist_lstm.py --epochs 20 [--cell gru] [--data ../shared/data/mnist.npz]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

import glassnet as gn

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "mnist.npz"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--cell", choices=["lstm", "gru"], default="lstm")
    parser.add_argument("--units", type=int, default=128)
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    with np.load(args.data) as d:
        x_train, y_train = d["x_train"].astype(np.float32) / 255, d["y_train"].astype(np.int64)
        x_test, y_test = d["x_test"].astype(np.float32) / 255, d["y_test"].astype(np.int64)
    cell = {"lstm": gn.layers.LSTM, "gru": gn.layers.GRU}[args.cell]
    gn.set_seed(args.seed)
    model = gn.Sequential([gn.layers.Input(shape=(28, 28)), cell(args.units),
                           gn.layers.Dense(10, activation="softmax")])
    model.compile(optimizer=gn.optimizers.Adam(1e-3, global_clipnorm=1.0), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    best = 0.0
    for epoch in range(args.epochs):
        start = time.perf_counter()
        history = model.fit(x_train, y_train, epochs=1, batch_size=128, verbose=0, seed=args.seed + epoch)
        seconds = time.perf_counter() - start
        test = model.evaluate(x_test, y_test, batch_size=1000)
        best = max(best, test["accuracy"])
        print(f"epoch {epoch + 1:2d}  loss {history.history['loss'][-1]:.4f}  train acc "
              f"{history.history['accuracy'][-1]:.4f}  test acc {test['accuracy']:.4f}  ({seconds:.0f} s, "
              f"{1e3 * seconds / 469:.0f} ms/step)", flush=True)
    print(f"final test accuracy {test['accuracy']:.4f}, best {best:.4f}", flush=True)


if __name__ == "__main__":
    main()
