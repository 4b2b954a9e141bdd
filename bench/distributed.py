"""Data-parallel numbers for docs/distributed.md: allreduce time by size and rank count, W1 epochs.

    python -m bench.distributed            # launches every configuration below, writes bench/results/
    python -m bench.distributed --quick    # fewer repeats (a smoke run)

    python -m bench.distributed --only cnn,costs   # some parts only

Configurations (W1 = MNIST MLP 784-256-128-10, Adam 1e-3, batch 128, float32, BENCH_W1_SAMPLES rows;
CNN = W6, Keras' mnist_convnet, Adam 1e-3, batch 128, float32, BENCH_CNN_SAMPLES rows):
  allreduce  mpiexec -n 1 and -n 2: in-place Allreduce of 1 KB .. 100 MB (float32), median of repeats
  w1, cnn    1 process x 2 BLAS threads (Model.fit); 1 rank x 1 thread and 2 ranks x 1 thread
             (gn.distributed.fit under mpiexec): epoch time, allreduce fraction of the step time;
             cnn also 2 ranks x 1 thread with bucket_bytes=32 KB (4 buckets, overlapped with backward)
  costs      one-thread step compute C(rows) of W1 and of the CNN at the shard sizes (min of repeats)
The machine has 2 cores shared with other work: each result records the load average when it ran.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
SIZES = [1 << 10, 10 << 10, 100 << 10, 1 << 20, 10 << 20, 100 << 20]  # bytes


def _mpiexec() -> str:
    beside = Path(sys.executable).parent / "mpiexec"
    return str(beside) if beside.exists() else "mpiexec"


def child_allreduce(quick: bool) -> None:
    import glassnet as gn

    comm = gn.distributed.init("mpi")
    out = []
    for nbytes in SIZES:
        buf = np.ones(nbytes // 4, dtype=np.float32)
        repeats = max(3, min(200, int(2e8 // nbytes))) // (4 if quick else 1) or 3
        comm.allreduce_(buf)  # warm-up (connects, pins pages)
        times = []
        for _ in range(repeats):
            comm.barrier()
            start = time.perf_counter()
            comm.allreduce_(buf)
            times.append(time.perf_counter() - start)
        out.append({"bytes": nbytes, "median_s": float(np.median(times)), "min_s": float(np.min(times)),
                    "repeats": repeats})
    if comm.rank == 0:
        print(json.dumps({"ranks": comm.size, "allreduce": out}))


def _w1_model():
    import glassnet as gn

    gn.set_floatx("float32")
    gn.set_seed(0)
    model = gn.Sequential([gn.layers.Input((784,)), gn.layers.Dense(256, activation="relu"),
                           gn.layers.Dense(128, activation="relu"), gn.layers.Dense(10, activation="softmax")])
    model.compile(optimizer=gn.optimizers.Adam(1e-3), loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def _cnn_model():
    import glassnet as gn
    from bench.impl_glassnet import build_convnet
    from bench.workloads import WORKLOADS

    gn.set_floatx("float32")
    gn.set_seed(0)
    return build_convnet(WORKLOADS["W6"], "adam")


def child_fit(workload: str, mode: str, samples: int, epochs: int, bucket_bytes: int | None) -> None:
    """Epoch times of one workload ("W1" or "W6") with ``Model.fit`` or ``gn.distributed.fit``."""
    sys.path.insert(0, str(ROOT))
    import glassnet as gn
    from bench.workloads import WORKLOADS, load_data

    x, y, source = load_data(WORKLOADS[workload])
    x, y = x[:samples], y[:samples]
    model = _w1_model() if workload == "W1" else _cnn_model()
    times = []
    history = None
    for _ in range(epochs):
        start = time.perf_counter()
        if mode == "fit":
            history = model.fit(x, y, epochs=1, batch_size=128, seed=0, verbose=0)
        else:
            history = gn.distributed.fit(model, x, y, epochs=1, batch_size=128, seed=0, verbose=0,
                                         bucket_bytes=bucket_bytes)
        times.append(time.perf_counter() - start)
    record = {"mode": mode, "data": source, "samples": samples, "epoch_s": times}
    if mode != "fit":
        d = history.distributed  # type: ignore[union-attr]
        record.update(ranks=d["ranks"], steps=d["steps"], step_s=d["step_s"], comm_s=d["comm_s"],
                      gradient_bytes=d["gradient_bytes"], buckets=d["buckets"])
        if gn.distributed.rank() != 0:
            return
    print(json.dumps(record))


def child_costs() -> None:
    """One-thread compute of a W1 step at the shard sizes of 1, 2, 8, 64 ranks (min of repeats: the least
    disturbed), and the float32 GEMM rate of the CNN's largest product (im2col of its second conv)."""
    import glassnet as gn

    sys.path.insert(0, str(ROOT))
    rng = np.random.default_rng(0)
    steps = _step_costs(_w1_model(), (784,), (128, 64, 16, 2), 60, rng)
    cnn_steps = _step_costs(_cnn_model(), (28, 28, 1), (128, 64, 16, 2), 16, rng)
    model = _w1_model()
    a = rng.random((128 * 121, 288), dtype=np.float32)
    b = rng.random((288, 64), dtype=np.float32)
    times = []
    for _ in range(20):
        start = time.perf_counter()
        a @ b
        times.append(time.perf_counter() - start)
    flops = 2 * a.shape[0] * a.shape[1] * b.shape[1]
    print(json.dumps({"w1_step": steps, "cnn_step": cnn_steps, "gemm_gflops": flops / float(np.min(times)) / 1e9,
                      "w1_parameters": sum(p.size for p in model.parameters(trainable_only=True)),
                      "floatx": gn.floatx()}))


def _step_costs(model, shape: tuple[int, ...], rows_list: tuple[int, ...], repeats: int,
                rng: np.random.Generator) -> dict:
    """Seconds of one training step (forward, backward, optimizer) on ``rows`` random rows: min and median
    of ``repeats`` after a few warm-up steps."""
    steps = {}
    with model.training_session():
        for rows in rows_list:
            x = rng.random((rows, *shape), dtype=np.float32)
            y = rng.integers(0, 10, rows)
            times = []
            for _ in range(repeats + 4):
                start = time.perf_counter()
                model.compute_loss_and_gradients(x, y)
                model.optimizer.step(model._trainable_params)
                times.append(time.perf_counter() - start)
            steps[rows] = {"min_s": float(np.min(times[4:])), "median_s": float(np.median(times[4:]))}
    return steps


def _run(cmd: list[str], threads: int) -> dict:
    env = {**os.environ, "PYTHONPATH": f"{ROOT / 'src'}{os.pathsep}{ROOT}", "OMP_NUM_THREADS": str(threads),
           "OPENBLAS_NUM_THREADS": str(threads), "MKL_NUM_THREADS": str(threads)}
    load = os.getloadavg()[0]
    done = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=600, check=True)
    record = json.loads(done.stdout.strip().splitlines()[-1])
    record["load_average_before"] = round(load, 2)
    return record


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--child", choices=["allreduce", "fit", "costs"])
    parser.add_argument("--only", default="allreduce,costs,w1,cnn", help="comma-separated parts to run")
    parser.add_argument("--workload", default="W1")
    parser.add_argument("--bucket-bytes", type=int, default=None)
    parser.add_argument("--mode", default="fit")
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--samples", type=int, default=int(os.environ.get("BENCH_W1_SAMPLES", 15_000)))
    parser.add_argument("--cnn-samples", type=int, default=int(os.environ.get("BENCH_CNN_SAMPLES", 3_840)))
    parser.add_argument("--epochs", type=int, default=3)
    args = parser.parse_args()
    if args.child == "allreduce":
        return child_allreduce(args.quick)
    if args.child == "fit":
        return child_fit(args.workload, args.mode, args.samples, args.epochs, args.bucket_bytes)
    if args.child == "costs":
        return child_costs()
    parts = args.only.split(",")
    me = [sys.executable, "-m", "bench.distributed"]
    quick = ["--quick"] if args.quick else []
    w1 = ["--child", "fit", "--workload", "W1", "--samples", str(args.samples), "--epochs", str(args.epochs)]
    cnn = ["--child", "fit", "--workload", "W6", "--samples", str(args.cnn_samples), "--epochs", str(args.epochs)]
    results: dict = {"cpu_count": os.cpu_count(), "when": time.strftime("%Y-%m-%dT%H%MZ", time.gmtime())}
    if "allreduce" in parts:
        results["allreduce"] = [_run([_mpiexec(), "-n", str(p), *me, "--child", "allreduce", *quick], 1)
                                for p in (1, 2)]
    if "costs" in parts:
        results["costs"] = _run([*me, "--child", "costs"], 1)
    if "w1" in parts:
        results["w1"] = [
            {**_run([*me, *w1, "--mode", "fit"], 2), "config": "1 process x 2 BLAS threads"},
            {**_run([_mpiexec(), "-n", "1", *me, *w1, "--mode", "mpi"], 1), "config": "1 rank x 1 thread"},
            {**_run([_mpiexec(), "-n", "2", *me, *w1, "--mode", "mpi"], 1), "config": "2 ranks x 1 thread"},
        ]
    if "cnn" in parts:
        results["cnn"] = [
            {**_run([*me, *cnn, "--mode", "fit"], 2), "config": "1 process x 2 BLAS threads"},
            {**_run([*me, *cnn, "--mode", "fit"], 1), "config": "1 process x 1 BLAS thread"},
            {**_run([_mpiexec(), "-n", "1", *me, *cnn, "--mode", "mpi"], 1), "config": "1 rank x 1 thread"},
            {**_run([_mpiexec(), "-n", "2", *me, *cnn, "--mode", "mpi"], 1), "config": "2 ranks x 1 thread"},
            {**_run([_mpiexec(), "-n", "2", *me, *cnn, "--mode", "mpi", "--bucket-bytes", str(32 << 10)], 1),
             "config": "2 ranks x 1 thread, bucket_bytes 32 KB"},
        ]
    out = ROOT / "bench" / "results" / f"distributed-{results['when']}.json"
    out.write_text(json.dumps(results, indent=1))
    print(json.dumps(results, indent=1))
    print(f"written: {out}")


if __name__ == "__main__":
    main()
