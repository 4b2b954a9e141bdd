"""MNIST-1D (Greydanus 2020): 40-step, 1-feature signals, 10 classes; a GRU against glassnet's MLP.

4,000 training and 1,000 test signals from ../shared/data/mnist1d.npz. The GRU reads the signal as a
sequence (40 steps x 1 feature); the MLP reads it as one 40-vector. The MNIST-1D paper reports 91% for
its GRU and 68% for its MLP. Its GRU (greydanus/mnist1d, models.py) is bidirectional with 6 units and
reads all 40 outputs through one linear layer; ``--readout all`` is that model (Bidirectional(GRU,
return_sequences=True), flattened, Dense(10)), ``--readout last`` a GRU's final state into Dense(10).
Adam, batch 100, global_clipnorm 1. Usage (numbers in docs/recurrent.md):

    PYTHONPATH=src python examples/mnist1d_gru.py --readout all --units 6 --epochs 150 --lr 1e-2
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

import glassnet as gn

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "mnist1d.npz"


class _Flatten(gn.layers.Layer):
    """(batch, T, d) -> (batch, T * d); backward reshapes back (the paper model's readout of all steps)."""

    def compute_output_shape(self, input_shape: tuple[int, ...]) -> tuple[int, ...]:
        return (int(np.prod(input_shape)),)

    def forward(self, x: np.ndarray, training: bool = False) -> np.ndarray:
        if training:
            self.cache = {"shape": x.shape}
        return x.reshape(len(x), -1)

    def backward(self, grad_output: np.ndarray) -> np.ndarray:
        return grad_output.reshape(self.read_cache("shape"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--epochs", type=int, default=60)
    parser.add_argument("--units", type=int, default=128)
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--skip-mlp", action="store_true")
    parser.add_argument("--readout", choices=["all", "last"], default="all")
    parser.add_argument("--lr", type=float, default=1e-2)
    args = parser.parse_args()
    with np.load(args.data) as d:
        x, y, x_test, y_test = d["x_train"], d["y_train"], d["x_test"], d["y_test"]
    gn.set_seed(args.seed)
    if args.readout == "all":
        body = [gn.layers.Bidirectional(gn.layers.GRU(args.units, return_sequences=True)), _Flatten()]
    else:
        body = [gn.layers.GRU(args.units)]
    gru = gn.Sequential([gn.layers.Input(shape=(40, 1)), *body, gn.layers.Dense(10, activation="softmax")])
    gru.compile(optimizer=gn.optimizers.Adam(args.lr, global_clipnorm=1.0), loss="sparse_categorical_crossentropy",
                metrics=["accuracy"])
    best, start = 0.0, time.perf_counter()
    for epoch in range(args.epochs):
        gru.fit(x[..., None], y, epochs=1, batch_size=100, verbose=0, seed=args.seed + epoch)
        acc = gru.evaluate(x_test[..., None], y_test, batch_size=500)["accuracy"]
        best = max(best, acc)
        if (epoch + 1) % 10 == 0:
            print(f"GRU({args.units}, readout {args.readout}) epoch {epoch + 1:3d}  test acc {acc:.3f}  "
                  f"({time.perf_counter() - start:.0f} s)", flush=True)
    print(f"GRU({args.units}, readout {args.readout}): final test accuracy {acc:.3f}, best over epochs "
          f"{best:.3f}", flush=True)
    if args.skip_mlp:
        return
    gn.set_seed(args.seed)
    mlp = gn.Sequential([gn.layers.Input(shape=(40,)), gn.layers.Dense(100, activation="relu"),
                         gn.layers.Dense(100, activation="relu"), gn.layers.Dense(10, activation="softmax")])
    mlp.compile(optimizer=gn.optimizers.Adam(1e-3), loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    mlp.fit(x, y, epochs=args.epochs, batch_size=100, verbose=0, seed=args.seed)
    print(f"MLP 40-100-100-10: test accuracy {mlp.evaluate(x_test, y_test)['accuracy']:.3f}", flush=True)


if __name__ == "__main__":
    main()
