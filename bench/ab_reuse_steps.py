"""Buffer reuse on or off inside one process: ``python -m bench.ab_reuse_steps W4 [steps] [block]``.

Runs ``train_step`` on the workload's batches, switching every layer's workspace on and off in
alternating blocks of ``block`` steps (the first two steps of each block are not timed, so each
setting starts from its own cache state), and prints the ratio of the median step times. Comparing
inside one process removes the machine's slow and fast phases, which move separate runs by 20%.
"""

from __future__ import annotations

import statistics
import sys
import time

import numpy as np

from bench import impl_glassnet
from bench.workloads import WORKLOADS, load_data
from glassnet.layers.workspace import Workspace
from glassnet.models.training import BatchIterator, prepare_xy


def main(argv: list[str]) -> int:
    key = argv[0] if argv else "W4"
    steps = int(argv[1]) if len(argv) > 1 else 300
    block = int(argv[2]) if len(argv) > 2 else 10
    w = WORKLOADS[key]
    x, y, _ = load_data(w)
    model = impl_glassnet.build(w, w.optimizer)
    model.fit(x[: 4 * w.batch_size], y[: 4 * w.batch_size], batch_size=w.batch_size, verbose=0, seed=0)
    x, y = prepare_xy(model, x, y)
    layers = [layer for layer in model.layers if hasattr(type(layer), "workspace")]
    spaces = [Workspace() for _ in layers]
    times: dict[str, list[float]] = {"reuse": [], "allocate": []}
    batches = iter(BatchIterator(x, y, w.batch_size, True, np.random.default_rng(0)))
    with model.training_session():
        for r in range(steps // block):
            for setting in ("reuse", "allocate") if r % 2 else ("allocate", "reuse"):
                for layer, space in zip(layers, spaces):
                    layer.workspace = space if setting == "reuse" else None  # type: ignore[attr-defined]
                for k in range(block):
                    try:
                        xb, yb = next(batches)
                    except StopIteration:
                        batches = iter(BatchIterator(x, y, w.batch_size, True, np.random.default_rng(r)))
                        xb, yb = next(batches)
                    start = time.perf_counter()
                    model.train_step(xb, yb)
                    if k >= 2:
                        times[setting].append(time.perf_counter() - start)
    for layer in layers:
        layer.workspace = None  # type: ignore[attr-defined]
    medians = {name: statistics.median(ts) for name, ts in times.items()}
    for name, median in medians.items():
        print(f"{key} {name:9s} median step {median * 1e6:8.0f} us over {len(times[name])} steps")
    print(f"{key} reuse / allocate: {medians['reuse'] / medians['allocate']:.3f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
