"""W6 (mnist_convnet) fits of two versions of glassnet, and PyTorch, interleaved in one process.

``python -m bench.ab_w6_step OLD_SRC [NEW_SRC] [--pairs N] [--steps N] [--threads N]`` loads each ``src``
tree's ``glassnet`` under another name (as ``bench.ab_w2_step`` does), builds Keras' mnist_convnet in
each from the same weights, and alternates ``fit`` runs of ``--steps`` batches of 128 MNIST images
(A B T, B A T, ... with T a PyTorch run of the same steps), timing each in this process's CPU time
(``--wall``: wall-clock), so a busy machine slows all three alike. For example, against the code
before issue 12's W6 work::

    git -C /work/main archive 0ae121c src | tar -x -C /tmp/w6old
    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python -m bench.ab_w6_step /tmp/w6old/src src --threads 1

It prints the minimum, lower quartile and median time per step of each, and the ratios new / old and
new / torch.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from bench.ab_w2_step import _load
from bench.workloads import WORKLOADS, load_data


def _glassnet(gn: Any, weights: list[np.ndarray] | None) -> Any:
    L = gn.layers
    model = gn.Sequential([
        L.Input(shape=(28, 28, 1)), L.Conv2D(32, 3, activation="relu"), L.MaxPooling2D(2),
        L.Conv2D(64, 3, activation="relu"), L.MaxPooling2D(2), L.Flatten(), L.Dropout(0.5),
        L.Dense(10, activation="softmax"),
    ])
    model.compile(optimizer=gn.optimizers.Adam(1e-3), loss="sparse_categorical_crossentropy")
    if weights is not None:
        model.set_weights(weights)
    return model


def _torch_run(x: np.ndarray, y: np.ndarray, threads: int | None) -> Callable[[], None]:
    import torch

    from bench import impl_torch

    if threads:
        torch.set_num_threads(threads)
    net = impl_torch.build(WORKLOADS["W6"])
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    loss_fn = torch.nn.CrossEntropyLoss()
    xt, yt = torch.from_numpy(x.reshape(-1, 1, 28, 28)), torch.from_numpy(y)

    def run() -> None:
        for i in range(0, len(xt), 128):
            opt.zero_grad(set_to_none=True)
            loss_fn(net(xt[i : i + 128]), yt[i : i + 128]).backward()
            opt.step()

    return run


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("old")
    parser.add_argument("new", nargs="?", default="src")
    parser.add_argument("--pairs", type=int, default=10)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--no-torch", action="store_true")
    parser.add_argument("--wall", action="store_true",
                        help="wall-clock instead of CPU time (which, with --threads 2, adds up both threads)")
    args = parser.parse_args(argv)
    if args.threads:
        from threadpoolctl import threadpool_limits

        threadpool_limits(args.threads)
    x, y, _ = load_data(WORKLOADS["W6"])
    x, y = x[: 128 * args.steps], y[: 128 * args.steps]
    runs: dict[str, Callable[[], None]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        sys.path.insert(0, tmp)
        weights = None
        for key, src in (("old", args.old), ("new", args.new)):
            gn = _load(src, f"glassnet_ab6_{key}", Path(tmp))
            model = _glassnet(gn, weights)
            weights = model.get_weights() if weights is None else weights
            runs[key] = (lambda m: lambda: m.fit(x, y, epochs=1, batch_size=128, verbose=0, seed=0))(model)
        if not args.no_torch:
            runs["torch"] = _torch_run(x, y, args.threads)
        for run in runs.values():  # warm-up
            run()
        times: dict[str, list[float]] = {k: [] for k in runs}
        clock = time.perf_counter if args.wall else time.process_time
        for i in range(args.pairs):
            order = ["old", "new"] if i % 2 == 0 else ["new", "old"]
            for k in order + ([] if args.no_torch else ["torch"]):
                start = clock()
                runs[k]()
                times[k].append((clock() - start) / args.steps)
    stats = {k: sorted(v) for k, v in times.items()}
    q = {"min": 0, "q25": args.pairs // 4, "median": args.pairs // 2}
    for k, v in stats.items():
        print(f"{k:>5}: " + ", ".join(f"{name} {v[i] * 1e3:.2f} ms" for name, i in q.items()) + " per step")
    for other in ("old", "torch"):
        if other in stats:
            print(f"new / {other}: " + ", ".join(f"{stats['new'][i] / stats[other][i]:.3f} of the {name}"
                                                 for name, i in q.items()))


if __name__ == "__main__":
    main()
