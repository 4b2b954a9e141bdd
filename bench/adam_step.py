"""Time one Adam step on the W1 network's parameters (784-256-128-10, float32, one flat pack).

Compares glassnet's Adam.step with the same rule written as one NumPy expression (temporaries) and
with the 13-pass in-place form (sqrt(v_hat) + eps formed first). Variants run interleaved, so machine
load hits them alike; the median of the repetitions is reported.

    OPENBLAS_NUM_THREADS=1 PYTHONPATH=src python bench/adam_step.py
"""

from __future__ import annotations

import math
import time

import numpy as np

import glassnet as gn
from glassnet.parameter import Parameter, ParameterPack

SHAPES = [(784, 256), (256,), (256, 128), (128,), (128, 10), (10,)]
B1, B2, EPS, LR = 0.9, 0.999, 1e-7, 1e-3


def expression(w, g, m, v, s, t):
    m[...] = B1 * m + (1 - B1) * g
    v[...] = B2 * v + (1 - B2) * g * g
    w -= LR * (m / (1 - B1**t)) / (np.sqrt(v / (1 - B2**t)) + EPS)


def thirteen_passes(w, g, m, v, s, t):
    np.multiply(g, 1 - B1, out=s)
    m *= B1
    m += s
    np.multiply(g, g, out=s)
    s *= 1 - B2
    v *= B2
    v += s
    np.sqrt(v, out=s)
    s /= math.sqrt(1 - B2**t)
    s += EPS
    np.divide(m, s, out=s)
    s *= LR / (1 - B1**t)
    w -= s


def main(steps: int = 100, repeats: int = 15) -> None:
    rng = np.random.default_rng(0)
    params = [Parameter(rng.normal(size=s).astype(np.float32), name=f"p{i}") for i, s in enumerate(SHAPES)]
    pack = ParameterPack(params)
    pack.grads[...] = rng.normal(size=pack.grads.size).astype(np.float32)
    buffers = [np.zeros_like(pack.values) for _ in range(3)]
    optimizer = gn.optimizers.Adam(LR, B1, B2, EPS)
    variants = {
        "glassnet Adam.step": lambda t: optimizer.step(params),
        "one expression": lambda t: expression(pack.values, pack.grads, *buffers, t),
        "13 in-place passes": lambda t: thirteen_passes(pack.values, pack.grads, *buffers, t),
    }
    times: dict[str, list[float]] = {k: [] for k in variants}
    for _ in range(repeats):
        for name, step in variants.items():
            start = time.perf_counter()
            for t in range(1, steps + 1):
                step(t)
            times[name].append((time.perf_counter() - start) / steps)
    print(f"{pack.values.size} float32 parameters, median of {repeats} x {steps} steps")
    for name, values in times.items():
        print(f"  {name:20s} {np.median(values) * 1e6:7.0f} us/step")


if __name__ == "__main__":
    main()
