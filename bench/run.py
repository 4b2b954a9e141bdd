"""Run the benchmark suite: ``python -m bench [--quick] [--only W1,W3] [--reps N]``.

Every (workload, implementation) measurement runs in its own fresh Python process; implementations are
interleaved (A B C A B C ...) so that drifts of the machine hit all of them alike. Reported: medians,
min-max, ratios of medians and median paired ratios (glassnet / reference within one repetition), peak
RSS, the BLAS kernel and the thread counts. The table goes to the terminal and, for a full run (or with
``--write``), into docs/performance.md between the ``bench:begin`` / ``bench:end`` markers.

Run it as ``env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python -m bench``: on this machine those two
variables force a slower OpenBLAS kernel (tests and CI keep them).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as ``python bench/run.py``: make the ``bench`` package importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.report import render, write_docs  # noqa: E402
from bench.workloads import REPO, WORKLOADS  # noqa: E402


def capabilities() -> dict[str, bool]:
    """What the glassnet under test offers (Adam, BatchNormalization, Dropout arrive on other branches)."""
    probe = (
        "import glassnet as gn, json; print(json.dumps({'adam': 'adam' in gn.optimizers.names(), "
        "'bn': hasattr(gn.layers, 'BatchNormalization') and hasattr(gn.layers, 'Dropout')}))"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, env=_child_env(), check=True)
    return json.loads(out.stdout)  # type: ignore[no-any-return]


def _child_env() -> dict[str, str]:
    env = dict(os.environ)
    paths = [str(REPO / "src"), str(REPO)]
    env["PYTHONPATH"] = os.pathsep.join(paths + ([env["PYTHONPATH"]] if env.get("PYTHONPATH") else []))
    return env


def _cpu_busy_s() -> float:
    """CPU-seconds all cores have spent busy since boot (Linux /proc/stat); 0 elsewhere."""
    try:
        with open("/proc/stat") as f:
            fields = [int(v) for v in f.readline().split()[1:]]
    except OSError:
        return 0.0
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def wait_for_quiet(max_wait_s: float, busy_cores: float = 0.15, window_s: float = 0.5) -> float:
    """Wait (at most ``max_wait_s``) until other processes use under ``busy_cores`` cores; returns the wait."""
    start = time.perf_counter()
    while time.perf_counter() - start < max_wait_s:
        before = _cpu_busy_s()
        time.sleep(window_s)
        if (_cpu_busy_s() - before) / window_s < busy_cores:
            break
    return time.perf_counter() - start


def run_child(workload: str, impl: str, optimizer: str, seed: int, quick: bool) -> dict[str, Any]:
    cmd = [sys.executable, "-m", "bench.child", workload, impl, "--optimizer", optimizer, "--seed", str(seed)]
    if quick:
        cmd += ["--quick", "--repeats", "300"]
    busy, wall = _cpu_busy_s(), time.perf_counter()
    done = subprocess.run(cmd, capture_output=True, text=True, env=_child_env(), cwd=REPO)
    busy, wall = _cpu_busy_s() - busy, time.perf_counter() - wall
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed:\n{done.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    # cores kept busy by other processes while this child ran (its own CPU time taken out)
    result["other_cores"] = max(0.0, (busy - result["cpu_s"]) / wall)
    return result


def plan(only: list[str], caps: dict[str, bool]) -> list[tuple[str, list[str], str, str]]:
    """(workload, implementations, optimizer, note) for each selected workload."""
    out = []
    for key in only:
        w = WORKLOADS[key]
        optimizer, note = w.optimizer, ""
        if optimizer == "adam" and not caps["adam"]:
            optimizer, note = "sgd_momentum", "Adam not in this glassnet yet: every implementation uses SGD momentum"
        if w.batchnorm_dropout is not None and not caps["bn"]:
            out.append((key, [], optimizer, "skipped: BatchNormalization/Dropout not in this glassnet yet"))
            continue
        out.append((key, ["glassnet", *w.references], optimizer, note))
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer samples and 2 repetitions")
    parser.add_argument("--only", default=",".join(WORKLOADS), help="comma-separated workloads, e.g. W1,W3")
    parser.add_argument("--reps", type=int, default=None, help="repetitions per implementation (default 5, quick 2)")
    parser.add_argument("--write", action="store_true", help="update docs/performance.md even for a partial run")
    parser.add_argument("--render", metavar="JSON", help="only re-render a saved run (e.g. bench/last_run.json)")
    parser.add_argument(
        "--quiet-wait",
        type=float,
        default=30.0,
        help="before each measurement, wait up to this many seconds for other processes to go idle",
    )
    args = parser.parse_args(argv)
    if args.render:
        table = render(json.loads(Path(args.render).read_text()))
        print(table)
        if args.write:
            write_docs(REPO / "docs" / "performance.md", table)
        return 0
    only = [k.strip().upper() for k in args.only.split(",") if k.strip()]
    unknown = [k for k in only if k not in WORKLOADS]
    if unknown:
        parser.error(f"unknown workload(s) {unknown}; choose from {', '.join(WORKLOADS)}")
    reps = args.reps or (2 if args.quick else 5)
    caps = capabilities()
    with tempfile.TemporaryDirectory(prefix="glassnet-bench-") as cache:
        os.environ["BENCH_DATA_CACHE"] = cache
        results = _run_all(args, argv, only, reps, caps)
    table = render(results)
    print(table)
    (REPO / "bench" / "last_run.json").write_text(json.dumps(results, indent=1))
    if args.write or (not args.quick and set(only) == set(WORKLOADS)):
        write_docs(REPO / "docs" / "performance.md", table)
    return 0


def _run_all(
    args: argparse.Namespace, argv: list[str] | None, only: list[str], reps: int, caps: dict[str, bool]
) -> dict[str, Any]:
    command = " ".join(["python -m bench", *(argv if argv is not None else sys.argv[1:])])
    unset = [v for v in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE") if v not in os.environ]
    results: dict[str, Any] = {
        "workloads": {},
        "reps": reps,
        "quick": args.quick,
        "command": command,
        "env_unset": unset,
        "machine": _machine(),
        "started": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
    }
    for key, impls, optimizer, note in plan(only, caps):
        entry: dict[str, Any] = {"optimizer": optimizer, "note": note, "runs": {impl: [] for impl in impls}}
        results["workloads"][key] = entry
        for rep in range(reps):
            for impl in impls:  # interleaved: A B C ... A B C ...
                waited = wait_for_quiet(args.quiet_wait)
                run = run_child(key, impl, optimizer, rep, args.quick)
                run["waited_s"] = waited
                entry["runs"][impl].append(run)
                print(
                    f"{key} rep {rep + 1}/{reps} {impl}: {run['metrics']} other cores busy "
                    f"{run['other_cores']:.2f} (waited {waited:.0f} s)",
                    file=sys.stderr,
                )
    return results


def _machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    system = f"{platform.system()} {platform.release()}"
    return f"{cpu}, {os.cpu_count()} cores, {system}, Python {platform.python_version()}"


if __name__ == "__main__":
    raise SystemExit(main())
