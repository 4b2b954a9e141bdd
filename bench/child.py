"""One measurement in a fresh process: ``python -m bench.child W1 glassnet --optimizer adam --seed 0``.

Prints one JSON line: the metrics, peak RSS of this process, the BLAS libraries and thread counts.
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
from typing import Any

IMPLS = ("glassnet", "torch", "torch_fused", "sklearn", "gemm")


def _measure(args: argparse.Namespace) -> tuple[dict[str, float], str]:
    from bench.workloads import WORKLOADS, load_data, scaled

    w = scaled(WORKLOADS[args.workload], args.quick)
    if args.impl == "gemm":
        from bench import impl_gemm

        return impl_gemm.train(w, args.seed), "-"
    x, y, source = load_data(w)
    if args.impl == "glassnet":
        from bench import impl_glassnet as impl
    elif args.impl in ("torch", "torch_fused"):
        from bench import impl_torch as impl  # type: ignore[no-redef]
    else:
        from bench import impl_sklearn as impl  # type: ignore[no-redef]
    if w.kind == "inference":
        return impl.infer(w, x, args.repeats), source
    if args.impl.startswith("torch"):
        return impl.train(w, x, y, args.optimizer, args.seed, fused=args.impl == "torch_fused"), source
    return impl.train(w, x, y, args.optimizer, args.seed), source


def _threads() -> dict[str, Any]:
    from threadpoolctl import threadpool_info

    info = [{k: d.get(k) for k in ("internal_api", "architecture", "num_threads", "version")}
            for d in threadpool_info()]
    out: dict[str, Any] = {"threadpools": info}
    if "torch" in sys.modules:
        out["torch_threads"] = sys.modules["torch"].get_num_threads()
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.child")
    parser.add_argument("workload")
    parser.add_argument("impl", choices=IMPLS)
    parser.add_argument("--optimizer", default="adam")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--repeats", type=int, default=1000)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args(argv)
    metrics, source = _measure(args)
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    print(json.dumps({"metrics": metrics, "peak_rss_mb": peak_kib / 1024, "data": source, **_threads()}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
