"""W2's network, one-epoch fits of two versions of glassnet interleaved in one process.

``python -m bench.ab_w2_step OLD_SRC [NEW_SRC] [--pairs N] [--rows N]`` copies each ``src`` tree's
``glassnet`` package under another name into a temporary folder (every import inside the package is
relative, so both load side by side), builds W2's model in each, and alternates one-epoch fits
(A B, B A, ...), timing each in this process's CPU time. Interleaving in one process makes a busy
machine slow both versions alike, which separate processes do not. For example, against the code
before issue 10::

    git archive 4bad95b src | tar -x -C /tmp/old
    OPENBLAS_NUM_THREADS=1 python -m bench.ab_w2_step /tmp/old/src src --pairs 16

It prints the minimum, lower quartile and median epoch time of each and the ratios new / old.
"""

from __future__ import annotations

import argparse
import importlib
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np


def _load(src: str, alias: str, folder: Path) -> Any:
    shutil.copytree(Path(src) / "glassnet", folder / alias)
    return importlib.import_module(alias)


def _model(gn: Any, x: np.ndarray, y: np.ndarray) -> Any:
    L = gn.layers
    model = gn.Sequential([L.Input(shape=(20,)), L.Dense(64, activation="relu"), L.Dense(64, activation="relu"),
                           L.Dense(1, activation="sigmoid")])
    model.compile(optimizer=gn.optimizers.Adam(1e-3), loss="binary_crossentropy")
    model.fit(x[:2000], y[:2000], epochs=1, batch_size=32, verbose=0)  # warm-up
    return model


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("old")
    parser.add_argument("new", nargs="?", default="src")
    parser.add_argument("--pairs", type=int, default=10)
    parser.add_argument("--rows", type=int, default=50_000)
    args = parser.parse_args(argv)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((args.rows, 20), dtype=np.float32)
    y = (x[:, :1] > 0).astype(np.float32)
    with tempfile.TemporaryDirectory() as tmp:
        sys.path.insert(0, tmp)
        versions = {"old": _load(args.old, "glassnet_ab_old", Path(tmp)),
                    "new": _load(args.new, "glassnet_ab_new", Path(tmp))}
        models = {k: _model(gn, x, y) for k, gn in versions.items()}
        times: dict[str, list[float]] = {k: [] for k in models}
        for i in range(args.pairs):
            for k in ("old", "new") if i % 2 == 0 else ("new", "old"):
                start = time.process_time()
                models[k].fit(x, y, epochs=1, batch_size=32, verbose=0)
                times[k].append(time.process_time() - start)
    stats = {k: sorted(v) for k, v in times.items()}
    for k, v in stats.items():
        print(f"{k}: min {v[0] * 1e3:.1f} ms, q25 {v[len(v) // 4] * 1e3:.1f} ms, median {v[len(v) // 2] * 1e3:.1f} ms"
              f" ({args.rows // 32 + (args.rows % 32 > 0)} steps per epoch)")
    ratio = {q: stats["new"][i] / stats["old"][i] for q, i in (("min", 0), ("median", args.pairs // 2))}
    print(f"new / old: {ratio['min']:.3f} of the minima, {ratio['median']:.3f} of the medians")


if __name__ == "__main__":
    main()
