"""Where one glassnet training step spends its time: ``python -m bench.profile_step W1 [--steps 300]``.

Times each phase of ``Model.train_step`` separately (batch gather, forward, loss value, loss gradient,
backward, optimizer) on the workload's shapes, plus the matrix products alone (the ``gemm`` limit of
``bench/impl_gemm.py``), as medians over many steps in one process. The phases are timed one after the
other, exactly as ``fit`` runs them, so their sum is close to a step of ``fit``.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import numpy as np

from bench import impl_glassnet
from bench.impl_gemm import convnet_step, gemm_step, gpt_gemm_step
from bench.workloads import WORKLOADS, load_data
from glassnet.models.training import BatchIterator, prepare_xy


def _gemm_step(sizes: list[int], batch: int, rng: np.random.Generator) -> Callable[[], None]:
    weights = [rng.standard_normal((a, b), dtype=np.float32) * np.float32(0.05) for a, b in zip(sizes, sizes[1:])]
    acts = [rng.standard_normal((batch, s), dtype=np.float32) for s in sizes]
    deltas = [rng.standard_normal((batch, s), dtype=np.float32) for s in sizes]
    return gemm_step(weights, [np.empty_like(W) for W in weights], acts, deltas)


def profile(key: str, steps: int) -> dict[str, float]:
    w = WORKLOADS[key]
    x, y, _ = load_data(w)
    if w.kind == "gpt":
        x = impl_glassnet.one_hot(x, w.n_in)
    model = impl_glassnet.build(w, w.optimizer)
    model.fit(x[: 4 * w.batch_size], y[: 4 * w.batch_size], batch_size=w.batch_size, verbose=0, seed=0)
    x, y = prepare_xy(model, x, y)
    phases: dict[str, list[float]] = {
        k: [] for k in ("gather", "forward", "loss", "loss_grad", "backward", "optimizer", "gemm")
    }
    batches = iter(BatchIterator(x, y, w.batch_size, True, np.random.default_rng(0)))
    if w.kind == "gpt":
        gemm = gpt_gemm_step(w, np.random.default_rng(0))
    elif w.model == "convnet":
        gemm = convnet_step(w.batch_size, np.random.default_rng(0))
    else:
        gemm = _gemm_step(w.layer_sizes, w.batch_size, np.random.default_rng(0))
    assert model.loss is not None
    with model.training_session():
        for _ in range(steps):
            t0 = time.perf_counter()
            try:
                xb, yb = next(batches)
            except StopIteration:
                batches = iter(BatchIterator(x, y, w.batch_size, True, np.random.default_rng(1)))
                xb, yb = next(batches)
            t1 = time.perf_counter()
            y_pred = model.forward(xb, training=True)
            t2 = time.perf_counter()
            model.loss(yb, y_pred)
            t3 = time.perf_counter()
            fused = model._fused[0]
            grad = model.loss.fused_gradient(yb, y_pred) if fused else model.loss.gradient(yb, y_pred)
            t4 = time.perf_counter()
            model._backward(grad, from_preactivation=fused)
            t5 = time.perf_counter()
            model.optimizer.step(model._trainable_params)
            t6 = time.perf_counter()
            gemm()
            t7 = time.perf_counter()
            for name, dt in zip(phases, (t1 - t0, t2 - t1, t3 - t2, t4 - t3, t5 - t4, t6 - t5, t7 - t6)):
                phases[name].append(dt)
    return {name: statistics.median(ts) for name, ts in phases.items()}


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.profile_step")
    parser.add_argument("workload", nargs="?", default="W1")
    parser.add_argument("--steps", type=int, default=300)
    args = parser.parse_args()
    med = profile(args.workload.upper(), args.steps)
    total = sum(v for k, v in med.items() if k != "gemm")
    print(f"{args.workload.upper()}: median per step, {args.steps} steps")
    for name, value in med.items():
        share = "" if name == "gemm" else f" {100 * value / total:5.1f}%"
        print(f"  {name:<10} {value * 1e6:8.0f} us{share}")
    print(f"  {'step':<10} {total * 1e6:8.0f} us  = {total / med['gemm']:.2f} x the matrix products alone")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
