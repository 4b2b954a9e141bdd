"""W8 / W8G per training step in CPU time, one thread: ``python -m bench.rnn_cpu_step [--steps 20]``.

The suite (``python -m bench``) times wall clock with 2 threads, which other processes on a shared
2-core machine distort by several times (spinning BLAS/OpenMP threads lose their time slices). This
script pins every library to one thread and reads the process's CPU time, which a busy machine
inflates far less, so glassnet / PyTorch / GEMM ratios stay comparable under load. Same model, data
shapes and optimizer as W8 (random data of MNIST's shape); medians of ``--reps`` blocks of ``--steps``.
"""

from __future__ import annotations

import os

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable  # noqa: E402

import numpy as np  # noqa: E402

from bench import impl_gemm, impl_glassnet, impl_torch  # noqa: E402
from bench.workloads import WORKLOADS  # noqa: E402


def _cpu_per_step(run_block: Callable[[], None], steps: int, reps: int) -> float:
    run_block()  # warm-up
    times = []
    for _ in range(reps):
        start = time.process_time()
        run_block()
        times.append((time.process_time() - start) / steps)
    return float(np.median(times))


def measure(key: str, steps: int, reps: int) -> dict[str, float]:
    """CPU seconds per step of glassnet, PyTorch and the bare GEMMs on workload ``key``."""
    import torch

    torch.set_num_threads(1)
    w = WORKLOADS[key]
    n = w.batch_size * steps
    rng = np.random.default_rng(0)
    x = rng.random((n, w.timesteps, w.n_in), dtype=np.float32)
    y = rng.integers(0, w.n_out, size=n)
    model = impl_glassnet.build(w, "adam")
    ours = _cpu_per_step(lambda: model.fit(x, y, epochs=1, batch_size=w.batch_size, verbose=0), steps, reps)
    net = impl_torch.build(w)
    opt = torch.optim.Adam(net.parameters(), lr=w.learning_rate)
    xt, yt = torch.from_numpy(x), torch.from_numpy(y)
    theirs = _cpu_per_step(lambda: impl_torch._epoch(w, net, opt, xt, yt), steps, reps)
    step = impl_gemm.recurrent_gemm_step(w, w.batch_size, rng)

    def gemm_block() -> None:
        for _ in range(steps):
            step()

    return {"glassnet": ours, "torch": theirs, "gemm": _cpu_per_step(gemm_block, steps, reps)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--only", default="W8,W8G")
    args = parser.parse_args()
    for key in args.only.split(","):
        t = measure(key, args.steps, args.reps)
        print(f"{key} {WORKLOADS[key].title}: CPU ms/step, 1 thread: glassnet {t['glassnet'] * 1e3:.1f}, torch "
              f"{t['torch'] * 1e3:.1f}, gemm {t['gemm'] * 1e3:.1f}; glassnet/torch {t['glassnet'] / t['torch']:.2f}, "
              f"glassnet/gemm {t['glassnet'] / t['gemm']:.2f} (load average {os.getloadavg()[0]:.1f})", flush=True)


if __name__ == "__main__":
    main()
