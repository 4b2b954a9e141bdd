"""Two versions of glassnet fitting one bench workload, interleaved in one process.

``python -m bench.ab_fit OLD_SRC [NEW_SRC] --workload W8 [--pairs N] [--steps N]`` loads each ``src``
tree's ``glassnet`` package under another name (every import inside the package is relative), builds the
workload's model in each through ``bench/impl_glassnet.py`` exactly as the suite does, and alternates
fits of ``--steps`` training steps (A B, B A, ...) on random data of the workload's shape. It times each
fit in wall-clock and in this process's CPU time. Interleaving in one process makes a busy machine slow
both versions alike, which separate processes do not. For example::

    git archive HEAD src | tar -x -C /tmp/old
    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python -m bench.ab_fit /tmp/old/src src --workload W8

``bench/ab_w2_step.py`` is the same comparison for W2 with its real-sized epoch.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from bench.workloads import WORKLOADS, Workload


def _load(src: str, alias: str, folder: Path) -> Any:
    """``src``/glassnet as package ``alias``, and bench/impl_glassnet.py compiled against it."""
    shutil.copytree(Path(src) / "glassnet", folder / alias)
    package = importlib.import_module(alias)
    saved = sys.modules.get("glassnet")
    sys.modules["glassnet"] = package
    try:
        spec = importlib.util.spec_from_file_location(f"{alias}_impl", Path(__file__).with_name("impl_glassnet.py"))
        impl = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
        spec.loader.exec_module(impl)  # type: ignore[union-attr]
    finally:
        if saved is None:
            sys.modules.pop("glassnet", None)
        else:
            sys.modules["glassnet"] = saved
    return impl


def _data(w: Workload, n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    if w.kind == "gpt":
        tokens = rng.integers(0, w.n_in, size=(n, w.seq_len))
        x = np.eye(w.n_in, dtype=np.float32)[tokens]
        return x, rng.integers(0, w.n_out, size=(n, w.seq_len))
    if w.model == "convnet":
        return rng.random((n, 28, 28, 1), dtype=np.float32), rng.integers(0, w.n_out, size=n)
    if w.recurrent is not None:
        return rng.random((n, w.timesteps, w.n_in), dtype=np.float32), rng.integers(0, w.n_out, size=n)
    return rng.standard_normal((n, w.n_in), dtype=np.float32), rng.integers(0, w.n_out, size=n)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("old")
    parser.add_argument("new", nargs="?", default="src")
    parser.add_argument("--workload", required=True, choices=sorted(WORKLOADS))
    parser.add_argument("--pairs", type=int, default=8)
    parser.add_argument("--steps", type=int, default=20)
    args = parser.parse_args(argv)
    w = WORKLOADS[args.workload]
    x, y = _data(w, w.batch_size * args.steps, np.random.default_rng(0))
    with tempfile.TemporaryDirectory() as tmp:
        sys.path.insert(0, tmp)
        impls = {"old": _load(args.old, "glassnet_ab_old", Path(tmp)),
                 "new": _load(args.new, "glassnet_ab_new", Path(tmp))}
        models = {}
        for k, impl in impls.items():
            models[k] = impl.build(w, w.optimizer)
            models[k].fit(x[: 2 * w.batch_size], y[: 2 * w.batch_size], batch_size=w.batch_size, verbose=0)
        wall: dict[str, list[float]] = {k: [] for k in models}
        cpu: dict[str, list[float]] = {k: [] for k in models}
        for i in range(args.pairs):
            for k in ("old", "new") if i % 2 == 0 else ("new", "old"):
                start, start_cpu = time.perf_counter(), time.process_time()
                models[k].fit(x, y, epochs=1, batch_size=w.batch_size, verbose=0)
                wall[k].append((time.perf_counter() - start) / args.steps)
                cpu[k].append((time.process_time() - start_cpu) / args.steps)
    for name, times in (("wall", wall), ("cpu", cpu)):
        stats = {k: sorted(v) for k, v in times.items()}
        for k, v in stats.items():
            print(f"{name} {k}: min {v[0] * 1e3:.2f} ms, median {v[len(v) // 2] * 1e3:.2f} ms per step")
        ratio = [stats["new"][i] / stats["old"][i] for i in (0, args.pairs // 2)]
        print(f"{name} new / old: {ratio[0]:.3f} of the minima, {ratio[1]:.3f} of the medians")


if __name__ == "__main__":
    main()
