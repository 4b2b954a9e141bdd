"""Cost of ``fit(..., diagnose=True)``: the GradientMonitor's per-batch statistics and per-epoch probe.

    PYTHONPATH=src python bench/diagnose_overhead.py

Digits, 20 epochs, batch 32, SGD with momentum; best of 3 wall-clock runs each, with and without the
monitor, for a 1-hidden-layer and a 6-hidden-layer MLP of 64 units.
"""

import contextlib
import io
import time

import glassnet as gn
from glassnet.app.experiments.core import load_digits_flat, mlp

x, y = load_digits_flat()


def best_time(depth: int, diagnose: bool, repeats: int = 3) -> float:
    best = float("inf")
    for _ in range(repeats):
        model = mlp(depth, 64, "relu", "he_normal", seed=0)
        model.compile(optimizer=gn.optimizers.SGD(0.05, momentum=0.9), loss="sparse_categorical_crossentropy")
        start = time.perf_counter()
        with contextlib.redirect_stdout(io.StringIO()):  # diagnose=True prints its findings
            model.fit(x, y, epochs=20, batch_size=32, verbose=0, seed=0, diagnose=diagnose)
        best = min(best, time.perf_counter() - start)
    return best


for depth in (2, 7):
    plain, monitored = best_time(depth, False), best_time(depth, True)
    print(
        f"{depth - 1} hidden layers: fit {plain:.3f} s, with diagnose=True {monitored:.3f} s ({monitored / plain:.2f}x)"
    )
