"""W6 step by step, interleaved with PyTorch: ``python -m bench.profile_convnet [--steps 40]``.

Each iteration runs, one after the other in one process: a glassnet training step with every layer's
forward and backward timed separately (the same calls ``Sequential.train_step`` makes, including
``backward_preactivation`` for a ReLU layer whose max pooling returns its dL/dz), a PyTorch step
(NCHW, ``zero_grad(set_to_none=True)``, ``backward``, Adam) and the step's matrix products alone
(``impl_gemm.convnet_step``). Interleaving exposes all three to the same load on a shared machine;
medians over the iterations are printed, with the ratios the targets of issue 12 are stated in.
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
import torch

from bench import impl_glassnet, impl_torch
from bench.impl_gemm import convnet_step
from bench.workloads import WORKLOADS, load_data


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.profile_convnet")
    parser.add_argument("--steps", type=int, default=40)
    parser.add_argument("--threads", type=int, default=None,
                        help="limit BLAS and PyTorch to this many threads (1 is less sensitive to a loaded machine)")
    parser.add_argument("--cpu", action="store_true",
                        help="CPU time instead of wall-clock (with --threads 1, time spent waiting is not counted)")
    args = parser.parse_args()
    if args.threads:
        from threadpoolctl import threadpool_limits

        threadpool_limits(args.threads)
        torch.set_num_threads(args.threads)
    w = WORKLOADS["W6"]
    x, y, _ = load_data(w)
    xb, yb = x[: w.batch_size], y[: w.batch_size]
    model = impl_glassnet.build(w, "adam")
    model.fit(x[: 4 * w.batch_size], y[: 4 * w.batch_size], batch_size=w.batch_size, verbose=0, seed=0)
    net = impl_torch.build(w)
    opt = torch.optim.Adam(net.parameters(), lr=w.learning_rate)
    loss_fn = torch.nn.CrossEntropyLoss()
    xt, yt = torch.from_numpy(xb.reshape(-1, 1, 28, 28)), torch.from_numpy(yb)
    gemm = convnet_step(w.batch_size, np.random.default_rng(0))
    times: dict[str, list[float]] = {}

    def record(name: str, seconds: float) -> None:
        times.setdefault(name, []).append(seconds)

    assert model.loss is not None
    clock = time.process_time if args.cpu else time.perf_counter
    with model.training_session():
        for _ in range(args.steps + 3):
            start = clock()
            a = xb
            for layer in model.layers:
                t = clock()
                a = layer.forward(a, training=True)
                record(f"fwd {layer.name}", clock() - t)
            t = clock()
            model.loss(yb, a)
            g = model.loss.fused_gradient(yb, a)
            record("loss", clock() - t)
            last = len(model.layers) - 1
            fused = getattr(model, "_relu_fused", ())  # ReLU layers whose max pooling does their backward
            for i in range(last, -1, -1):
                layer = model.layers[i]
                layer.input_grad_required = i > 0
                t = clock()
                g = layer.backward_preactivation(g) if i == last or i in fused else layer.backward(g)
                record(f"bwd {layer.name}", clock() - t)
                layer.input_grad_required = True
            t = clock()
            model.optimizer.step(model._trainable_params)
            record("optimizer", clock() - t)
            record("glassnet step", clock() - start)
            t = clock()
            opt.zero_grad(set_to_none=True)
            loss_fn(net(xt), yt).backward()
            opt.step()
            record("torch step", clock() - t)
            t = clock()
            gemm()
            record("gemm step", clock() - t)
    med = {k: statistics.median(v[3:]) for k, v in times.items()}
    for name, value in med.items():
        print(f"  {name:<24} {value * 1e3:8.2f} ms")
    step = med["glassnet step"]
    print(f"glassnet / torch {step / med['torch step']:.2f}   glassnet / gemm {step / med['gemm step']:.2f}"
          f"   (torch threads {torch.get_num_threads()})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
