"""W9's GPT, fits of two versions of glassnet interleaved in one process.

``python -m bench.ab_w9_step OLD_SRC [NEW_SRC] [--pairs N] [--steps N]`` loads each ``src`` tree's
``glassnet`` under another name (as ``bench.ab_w2_step`` does), builds W9's model (2-layer pre-LN GPT,
d 128, 4 heads, T 64, batch 32, GELU tanh, Adam) in each from the same seed, and alternates fits of
``--steps`` training steps (A B, B A, ...), timing each in this process's CPU time (``--wall``:
wall-clock, for more than one BLAS thread). For example::

    git -C /work/main archive 0ae121c src | tar -x -C /tmp/w9old
    OPENBLAS_NUM_THREADS=1 python -m bench.ab_w9_step /tmp/w9old/src src --pairs 12

It prints the minimum, lower quartile and median time per step of each and the ratios new / old, and
checks that both versions reached the same loss (same numerics up to float32 rounding).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from bench.ab_fit import _load
from bench.workloads import WORKLOADS, load_data


def _model(impl: Any) -> Any:
    """W9's model from ``bench/impl_glassnet.py`` compiled against one version, from seed 0."""
    impl.gn.set_seed(0)
    return impl.build_gpt(WORKLOADS["W9"], "adam")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("old")
    parser.add_argument("new", nargs="?", default="src")
    parser.add_argument("--pairs", type=int, default=10)
    parser.add_argument("--steps", type=int, default=8)
    parser.add_argument("--wall", action="store_true", help="time wall-clock (perf_counter), not CPU time")
    args = parser.parse_args(argv)
    w = WORKLOADS["W9"]
    tokens, targets, _ = load_data(w)
    x = np.eye(w.n_in, dtype=np.float32)[tokens[: args.steps * w.batch_size]]
    y = targets[: args.steps * w.batch_size]
    with tempfile.TemporaryDirectory() as tmp:
        sys.path.insert(0, tmp)
        versions = {"old": _load(args.old, "glassnet_ab_old", Path(tmp)),
                    "new": _load(args.new, "glassnet_ab_new", Path(tmp))}
        models = {k: _model(impl) for k, impl in versions.items()}
        losses = {k: m.fit(x, y, batch_size=w.batch_size, verbose=0, seed=0).history["loss"][-1]
                  for k, m in models.items()}  # warm-up, and the same first epoch in both
        times: dict[str, list[float]] = {k: [] for k in models}
        clock = time.perf_counter if args.wall else time.process_time
        for i in range(args.pairs):
            for k in ("old", "new") if i % 2 == 0 else ("new", "old"):
                start = clock()
                models[k].fit(x, y, batch_size=w.batch_size, verbose=0, seed=0)
                times[k].append((clock() - start) / args.steps)
    stats = {k: sorted(v) for k, v in times.items()}
    for k, v in stats.items():
        print(f"{k}: min {v[0] * 1e3:.1f} ms, q25 {v[len(v) // 4] * 1e3:.1f} ms, median {v[len(v) // 2] * 1e3:.1f} ms"
              f" per step ({args.steps} steps per fit); first-epoch loss {losses[k]:.6f}")
    ratio = {q: stats["new"][i] / stats["old"][i] for q, i in (("min", 0), ("median", args.pairs // 2))}
    print(f"new / old: {ratio['min']:.3f} of the minima, {ratio['median']:.3f} of the medians")


if __name__ == "__main__":
    main()
