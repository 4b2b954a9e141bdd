"""A/B check of one optimization: buffers reused across batches (``Model.workspaces``) on or off.

``python -m bench.ab_workspaces [W1] [--reps 5]``: each run is a fresh process, interleaved on/off;
prints the median epoch time of each and the paired ratio. "off" replaces ``Model.workspaces`` with a
no-op, so every layer allocates its outputs and gradients anew at every batch (the naive way).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import statistics
import subprocess
import sys

from bench.run import _child_env, wait_for_quiet
from bench.workloads import REPO, WORKLOADS


def _one(workload: str, on: bool) -> float:
    import glassnet as gn
    from bench import impl_glassnet
    from bench.workloads import load_data

    if not on:
        gn.Model.workspaces = lambda self: contextlib.nullcontext()  # type: ignore[method-assign]
    w = WORKLOADS[workload]
    x, y, _ = load_data(w)
    return impl_glassnet.train(w, x, y, w.optimizer, 0)["epoch_s"]


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.ab_workspaces")
    parser.add_argument("workload", nargs="?", default="W1")
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--child", choices=["on", "off"])
    args = parser.parse_args()
    if args.child:
        print(json.dumps(_one(args.workload, args.child == "on")))
        return 0
    times: dict[str, list[float]] = {"on": [], "off": []}
    for _ in range(args.reps):
        for mode in ("on", "off"):
            wait_for_quiet(10.0)
            cmd = [sys.executable, "-m", "bench.ab_workspaces", args.workload, "--child", mode]
            out = subprocess.run(cmd, capture_output=True, text=True, env=_child_env(), cwd=REPO, check=True)
            times[mode].append(json.loads(out.stdout.strip().splitlines()[-1]))
    paired = statistics.median(a / b for a, b in zip(times["on"], times["off"]))
    for mode, ts in times.items():
        print(
            f"{args.workload} workspaces {mode}: median {statistics.median(ts):.3f} s "
            f"(min {min(ts):.3f}, max {max(ts):.3f})"
        )
    print(f"paired ratio on/off: {paired:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
