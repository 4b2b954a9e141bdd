"""Long memory: recall the first token of a sequence after T steps; SimpleRNN vs LSTM vs GRU.

Each sequence is T one-hot tokens over 8 symbols: x_1 is one of 4 "class" symbols, x_2 .. x_T are
random "distractor" symbols; the label is x_1's class (chance: 25%). Each cell (32 units, then
Dense(4, softmax)) trains with Adam 3e-3, global_clipnorm 1, batch 50, on 3,000 sequences, tested on
1,000. Also recorded: ||dL/dh_t|| (batch mean, from ``layer.state_grad_norms``) over t for the loss at
step T, at initialization and after training: how much of the loss's gradient reaches the step that
holds the answer. Usage (numbers and the plot in docs/recurrent.md):

    PYTHONPATH=src python examples/rnn_memory.py --lengths 10,20,50,100 --epochs 20 --out docs/recurrent_memory.png
"""

from __future__ import annotations

import argparse
import json
import os
import time

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS"):  # small matrices: one thread is fastest
    os.environ.setdefault(_var, "1")

import numpy as np  # noqa: E402

import glassnet as gn  # noqa: E402

CELLS = {"SimpleRNN": gn.layers.SimpleRNN, "LSTM": gn.layers.LSTM, "GRU": gn.layers.GRU}
SYMBOLS, CLASSES = 8, 4


def make_data(n: int, steps: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """One-hot sequences (n, steps, 8) and their first token's class (n,)."""
    tokens = rng.integers(CLASSES, SYMBOLS, size=(n, steps))
    labels = rng.integers(0, CLASSES, size=n)
    tokens[:, 0] = labels
    return np.eye(SYMBOLS, dtype=np.float32)[tokens], labels


def gradient_through_time(model: gn.Sequential, x: np.ndarray, y: np.ndarray) -> list[float]:
    """||dL/dh_t|| (batch mean) for t = 1..T, from one forward/backward pass in training mode."""
    assert model.loss is not None
    layer = model.layers[0]
    layer.record_state_grads = True
    out = model.forward(x, training=True)
    model.backward(model.loss.gradient(y, out))
    layer.record_state_grads = False
    return [float(v) for v in layer.state_grad_norms]


def run(cell: str, steps: int, epochs: int, seed: int) -> dict[str, object]:
    rng = np.random.default_rng(seed)
    x, y = make_data(3000, steps, rng)
    x_test, y_test = make_data(1000, steps, rng)
    gn.set_seed(seed)
    model = gn.Sequential([gn.layers.Input(shape=(steps, SYMBOLS)), CELLS[cell](32),
                           gn.layers.Dense(CLASSES, activation="softmax")])
    model.compile(optimizer=gn.optimizers.Adam(3e-3, global_clipnorm=1.0), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    before = gradient_through_time(model, x[:500], y[:500])
    start = time.perf_counter()
    model.fit(x, y, epochs=epochs, batch_size=50, verbose=0, seed=seed)
    seconds = time.perf_counter() - start
    after = gradient_through_time(model, x[:500], y[:500])
    accuracy = model.evaluate(x_test, y_test, batch_size=500)["accuracy"]
    return {"cell": cell, "steps": steps, "accuracy": accuracy, "seconds": seconds,
            "grad_before": before, "grad_after": after}


def plot(results: list[dict[str, object]], steps: int, path: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(10, 3.8), sharey=True)
    for ax, key, title in ((axes[0], "grad_before", "at initialization"), (axes[1], "grad_after", "after training")):
        for r in results:
            if r["steps"] == steps:
                g = np.asarray(r[key])
                ax.semilogy(np.arange(1, steps + 1), g / g[-1], label=f"{r['cell']} (test acc {r['accuracy']:.2f})")
        ax.set_title(f"T = {steps}, {title}")
        ax.set_xlabel("time step t (the answer is at t = 1)")
        ax.grid(True, which="both", alpha=0.3)
    axes[0].set_ylabel("||dL/dh_t|| / ||dL/dh_T||")
    axes[1].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--lengths", default="10,20,50,100")
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default="docs/recurrent_memory.png")
    parser.add_argument("--json", default=None, help="also write every number here")
    args = parser.parse_args()
    lengths = [int(v) for v in args.lengths.split(",")]
    results = []
    for steps in lengths:
        for cell in CELLS:
            r = run(cell, steps, args.epochs, args.seed)
            results.append(r)
            g = np.asarray(r["grad_before"])
            print(f"T={steps:4d} {cell:9s} test acc {r['accuracy']:.3f}  ||dL/dh_1||/||dL/dh_T|| at init "
                  f"{g[0] / g[-1]:.2e}, trained {r['grad_after'][0] / r['grad_after'][-1]:.2e}  "
                  f"({r['seconds']:.0f} s)", flush=True)
    plot(results, max(lengths), args.out)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f)


if __name__ == "__main__":
    main()
