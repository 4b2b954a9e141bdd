"""One measurement in a fresh process: ``python -m bench.child W1 glassnet --optimizer adam --seed 0``.

Prints one JSON line: the metrics, peak RSS of this process, the BLAS libraries and thread counts.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
from typing import Any

IMPLS = ("glassnet", "torch", "torch_fused", "sklearn", "gemm")
BASELINE: dict[str, float] = {}  # RSS once the data are loaded and the library imported


def _measure(args: argparse.Namespace) -> tuple[dict[str, float], str]:
    from bench.workloads import WORKLOADS, load_data, scaled

    w = scaled(WORKLOADS[args.workload], args.quick)
    if args.impl == "gemm":
        from bench import impl_gemm

        BASELINE["rss"] = reset_peak()
        return impl_gemm.train(w, args.seed), "-"
    x, y, source = load_data(w)
    if args.impl == "glassnet":
        from bench import impl_glassnet as impl
    elif args.impl in ("torch", "torch_fused"):
        from bench import impl_torch as impl  # type: ignore[no-redef]
    else:
        from bench import impl_sklearn as impl  # type: ignore[no-redef]
    BASELINE["rss"] = reset_peak()
    if w.kind == "inference":
        return impl.infer(w, x, args.repeats), source
    if args.impl.startswith("torch"):
        return impl.train(w, x, y, args.optimizer, args.seed, fused=args.impl == "torch_fused"), source
    return impl.train(w, x, y, args.optimizer, args.seed), source


def _threads() -> dict[str, Any]:
    from threadpoolctl import threadpool_info

    info = [
        {k: d.get(k) for k in ("internal_api", "architecture", "num_threads", "version")} for d in threadpool_info()
    ]
    out: dict[str, Any] = {"threadpools": info}
    if "torch" in sys.modules:
        out["torch_threads"] = sys.modules["torch"].get_num_threads()
    return out


def _rss_mb(field: str) -> float:
    """VmRSS / VmHWM of this process from /proc (Linux), in MB; 0 where unavailable."""
    try:
        with open("/proc/self/status") as f:
            lines = f.read().splitlines()
        for line in lines:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def reset_peak() -> float:
    """Reset the peak-RSS mark to the current RSS (Linux clear_refs 5); returns the RSS then, in MB."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
    except OSError:
        pass
    return _rss_mb("VmRSS")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.child")
    parser.add_argument("workload")
    parser.add_argument("impl", choices=IMPLS)
    parser.add_argument("--optimizer", default="adam")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--repeats", type=int, default=1000)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args(argv)
    load = os.getloadavg()[0]
    metrics, source = _measure(args)
    usage = resource.getrusage(resource.RUSAGE_SELF)
    report = {
        "metrics": metrics,
        "peak_rss_mb": usage.ru_maxrss / 1024,
        "data": source,  # ru_maxrss: KiB
        "train_peak_mb": _rss_mb("VmHWM") - BASELINE.get("rss", 0.0),
        "loadavg": load,
        "cpu_s": usage.ru_utime + usage.ru_stime,
        "involuntary_switches": usage.ru_nivcsw,
    }
    print(json.dumps({**report, **_threads()}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
