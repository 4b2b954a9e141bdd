"""Long memory: recall the first token of a sequence after T steps; SimpleRNN vs LSTM vs GRU.

The full run of experiment 7 (``glassnet experiment memory`` runs a short one); the task, model and
training are in ``glassnet.app.experiments.memory``. Each sequence is T one-hot tokens over 8 symbols:
x_1 is one of 4 "class" symbols, x_2 .. x_T are random distractors; the label is x_1's class (chance
25%). Each cell (32 units, then Dense(4, softmax)) trains with Adam 3e-3, global_clipnorm 1, batch 50,
on 3,000 sequences, tested on 1,000. Also recorded: ||dL/dh_t|| (batch mean) over t for the loss at
step T, at initialization and after training. Usage (numbers and the plot in docs/recurrent.md):

    PYTHONPATH=src python examples/rnn_memory.py --lengths 10,20,50,100 --epochs 20 --out docs/recurrent_memory.png
"""

from __future__ import annotations

import argparse
import json

import numpy as np

from glassnet.app.experiments.memory import CELLS, one_blas_thread, plot_curves, run_cell


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
    with one_blas_thread():  # small matrices: one thread is fastest
        for steps in lengths:
            for cell in CELLS:
                r = run_cell(cell, steps, args.epochs, args.seed)
                results.append(r)
                g, h = np.asarray(r["grad_before"]), np.asarray(r["grad_after"])
                print(
                    f"T={steps:4d} {cell:9s} test acc {r['accuracy']:.3f}  ||dL/dh_1||/||dL/dh_T|| at init "
                    f"{g[0] / g[-1]:.2e}, trained {h[0] / h[-1]:.2e}  through-time finding: {r['diagnosed']}  "
                    f"({r['seconds']:.0f} s)",
                    flush=True,
                )
    plot_curves(results, max(lengths)).savefig(args.out, dpi=110)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f)


if __name__ == "__main__":
    main()
