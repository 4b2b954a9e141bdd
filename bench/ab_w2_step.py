"""W2's network trained one epoch, 5 times in one process: ``python -m bench.ab_w2_step LABEL``.

Run it alternately against two versions of glassnet to compare their per-step overhead, e.g. with the
code of an older commit unpacked by ``git archive <commit> src | tar -x -C /tmp/old``::

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE PYTHONPATH=/tmp/old/src python -m bench.ab_w2_step old
    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python -m bench.ab_w2_step new

It prints the minimum and the median epoch time, in wall-clock and in this process's CPU time (the
fairer one on a busy machine with ``OPENBLAS_NUM_THREADS=1``).
"""

from __future__ import annotations

import sys
import time

import numpy as np

import glassnet as gn


def main(label: str) -> None:
    rng = np.random.default_rng(0)
    x = rng.standard_normal((50_000, 20), dtype=np.float32)
    y = (x[:, :1] > 0).astype(np.float32)
    L = gn.layers
    model = gn.Sequential([L.Input(shape=(20,)), L.Dense(64, activation="relu"), L.Dense(64, activation="relu"),
                           L.Dense(1, activation="sigmoid")])
    model.compile(optimizer=gn.optimizers.Adam(1e-3), loss="binary_crossentropy")
    model.fit(x[:2000], y[:2000], epochs=1, batch_size=32, verbose=0)  # warm-up
    times, cpu = [], []
    for _ in range(5):
        start, start_cpu = time.perf_counter(), time.process_time()
        model.fit(x, y, epochs=1, batch_size=32, verbose=0)
        times.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
    print(f"{label} min {min(times):.3f} s, median {sorted(times)[2]:.3f} s; "
          f"CPU time min {min(cpu):.3f} s, median {sorted(cpu)[2]:.3f} s")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "glassnet")
