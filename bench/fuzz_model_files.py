"""Fuzz ``load_model`` with mutated copies of valid model files (issue 11, item 4).

Every case is a valid saved model (Sequential with BatchNormalization and Dropout, a graph model with
Add/Concatenate/Multiply, each with its optimizer state, and a plain uncompiled one) changed by one
seeded mutation: byte flips, truncation, zip member edits (dropped, doubled, replaced, renamed, added,
directory sizes changed), JSON edits (a value anywhere in config.json replaced by a hostile one, a key
removed, deep nesting) or .npy header edits inside weights.npz / optimizer.npz (shape, dtype, order,
data length; the inner zip rewritten with correct CRCs so the checks behind them are reached).

Each case runs in a worker process under a memory cap (``RLIMIT_AS``) and a time cap; the outcome is
``loaded``, a glassnet error class name, or a failure: ``other:<Type>`` (a non-glassnet exception),
``hidden:<Type>`` (a MemoryError/RecursionError converted into a glassnet error), ``timeout`` or
``crash``. The worker resets the kernel's peak-RSS counter before each case (``/proc/self/clear_refs``)
so the peak RSS reported is the case's own.

    PYTHONPATH=src python -m bench.fuzz_model_files --cases 10000 --seed 1
"""

from __future__ import annotations

import argparse
import io
import json
import os
import random
import select
import struct
import subprocess
import sys
import tempfile
import time
import zipfile
from collections import Counter
from pathlib import Path
from typing import Any

MEMORY_CAP_BYTES = 1 << 30  # address space of a worker, after numpy and glassnet are imported
TIME_CAP_S = 10.0

HOSTILE_VALUES: list[Any] = [
    None, True, False, 0, -1, 1, 2, 3, 7, 10**9, 10**12, -(10**12), 2**63, 1e308, -1e308, 0.5, float("nan"),
    float("inf"), "", "x", "relu", "Dense", "Sequential", "float64", "int8", "../../etc/passwd", "w0000",
    "dense/kernel", "iterations", [], [1], [10**9], [-1, 2], [[1]], ["a"], {}, {"class_name": "Dense"},
    {"class_name": "Dense", "config": {"units": 10**10}}, {"class_name": "os.system", "config": {}},
    [[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]],
]
DESCRS = ["<f4", "<f8", "<f2", ">f4", "|O", "<i8", "<u1", "|b1", "<c8", "<U3", "|V8", "<M8[s]", "x", "<f4 "]


# -- seed files --------------------------------------------------------------------------------------
def seed_files() -> dict[str, bytes]:
    """The valid model files the mutations start from."""
    import numpy as np

    import glassnet as gn

    gn.set_seed(0)
    rng = np.random.default_rng(0)
    files = {}
    seq = gn.Sequential([gn.layers.Input(shape=(4,)), gn.layers.Dense(6, activation="relu"),
                         gn.layers.BatchNormalization(), gn.layers.Dropout(0.2, seed=1),
                         gn.layers.Dense(3, activation="softmax")])
    seq.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    seq.fit(rng.normal(size=(32, 4)), rng.integers(0, 3, 32), epochs=2, verbose=0, seed=0)
    a, b = gn.layers.Input(shape=(4,), name="a"), gn.layers.Input(shape=(2,), name="b")
    h = gn.layers.Dense(2, activation="tanh")(a)
    joined = gn.layers.Concatenate()([gn.layers.Add()([h, b]), gn.layers.Multiply()([h, b])])
    graph = gn.Model(inputs=[a, b], outputs=gn.layers.Dense(1)(joined))
    graph.compile(optimizer=gn.optimizers.SGD(0.1, momentum=0.9), loss="mse")
    graph.fit([rng.normal(size=(16, 4)), rng.normal(size=(16, 2))], rng.normal(size=(16, 1)), epochs=1,
              verbose=0, seed=0)
    plain = gn.Sequential([gn.layers.Input(shape=(3,)), gn.layers.Dense(2), gn.layers.LayerNormalization()])
    with tempfile.TemporaryDirectory() as tmp:
        for name, model, state in (("sequential", seq, True), ("functional", graph, True), ("plain", plain, False)):
            model.save(Path(tmp) / name, include_optimizer=state)
            files[name] = (Path(tmp) / name).read_bytes()
    return files


# -- mutations ---------------------------------------------------------------------------------------
def _members(data: bytes) -> list[tuple[str, bytes]]:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return [(info.filename, archive.read(info)) for info in archive.infolist()]


def _zip(items: list[tuple[str, bytes]], method: int = zipfile.ZIP_DEFLATED) -> bytes:
    import warnings

    buffer = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # duplicate names are one of the mutations
        with zipfile.ZipFile(buffer, "w", compression=method) as archive:
            for name, payload in items:
                archive.writestr(name, payload)
    return buffer.getvalue()


def flip_bytes(data: bytes, r: random.Random) -> bytes:
    out = bytearray(data)
    for _ in range(r.choice([1, 1, 2, 4, 16])):
        out[r.randrange(len(out))] ^= r.randrange(1, 256)
    return bytes(out)


def truncate(data: bytes, r: random.Random) -> bytes:
    return data[: r.randrange(len(data))]


def edit_members(data: bytes, r: random.Random) -> bytes:
    items = _members(data)
    k = r.randrange(len(items))
    kind = r.choice(["drop", "double", "random", "rename", "extra", "stored", "empty", "swap", "sizes"])
    if kind == "drop":
        del items[k]
    elif kind == "double":
        items.insert(r.randrange(len(items) + 1), items[k])
    elif kind == "random":
        items[k] = (items[k][0], r.randbytes(r.choice([0, 10, 1000, len(items[k][1])])))
    elif kind == "rename":
        items[k] = (r.choice(["CONFIG.JSON", "weights.npz/", "../config.json", "optimizer.npz", "x"]), items[k][1])
    elif kind == "extra":
        items.append(("evil.py", b"import os; os.system('true')"))
    elif kind == "empty":
        items[k] = (items[k][0], b"")
    elif kind == "swap" and len(items) > 1:
        j = (k + 1) % len(items)
        items[k], items[j] = (items[k][0], items[j][1]), (items[j][0], items[k][1])
    elif kind == "sizes":
        return _patch_directory_sizes(_zip(items), r)
    return _zip(items, zipfile.ZIP_STORED if kind == "stored" else zipfile.ZIP_DEFLATED)


def _patch_directory_sizes(data: bytes, r: random.Random) -> bytes:
    """Change a declared uncompressed (or compressed) size in the central directory."""
    out = bytearray(data)
    at = out.find(b"PK\x01\x02")
    if at < 0:
        return data
    field = at + r.choice([20, 24])  # compressed size, uncompressed size
    struct.pack_into("<L", out, field, r.choice([0, 1, 2**20, 2**31, 2**32 - 1]))
    return bytes(out)


def _json_paths(node: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [path]
    if isinstance(node, dict):
        for key, value in node.items():
            found += _json_paths(value, (*path, key))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            found += _json_paths(value, (*path, i))
    return found


def edit_json(data: bytes, r: random.Random) -> bytes:
    items = _members(data)
    k = next(i for i, (name, _) in enumerate(items) if name == "config.json")
    config = json.loads(items[k][1])
    kind = r.choice(["value", "value", "value", "delete", "deep", "duplicate_key", "text"])
    if kind == "deep":
        text = "[" * r.choice([65, 1000, 100_000]) + "]" * 3
    elif kind == "text":
        text = json.dumps(config)
        cut = r.randrange(len(text))
        text = text[:cut] + r.choice(['"', "}", "\\", "\ud800", "\x00", "NaN", "1e999999", "9" * 5000]) + text[cut:]
    else:
        paths = [p for p in _json_paths(config) if p]
        path = r.choice(paths)
        parent = config
        for step in path[:-1]:
            parent = parent[step]
        if kind == "delete" and isinstance(parent, dict):
            del parent[path[-1]]
        elif kind == "duplicate_key" and isinstance(parent, dict):
            text = json.dumps(config)
            key = json.dumps(str(path[-1]))
            text = text.replace(key + ":", key + ": 1, " + key + ":", 1)
            return _zip([(n, text.encode("utf-8", "surrogatepass") if n == "config.json" else d) for n, d in items])
        else:
            parent[path[-1]] = r.choice(HOSTILE_VALUES)
        text = json.dumps(config)
    items[k] = ("config.json", text.encode("utf-8", "surrogatepass"))
    return _zip(items)


def _npy(descr: str, fortran: bool, shape: str, payload: bytes) -> bytes:
    header = f"{{'descr': '{descr}', 'fortran_order': {fortran}, 'shape': {shape}, }}".encode("latin-1")
    header += b" " * (-(10 + len(header) + 1) % 64) + b"\n"
    return b"\x93NUMPY\x01\x00" + len(header).to_bytes(2, "little") + header + payload


def edit_npy(data: bytes, r: random.Random) -> bytes:
    items = _members(data)
    candidates = [i for i, (name, _) in enumerate(items) if name.endswith(".npz")]
    k = r.choice(candidates)
    inner = _members(items[k][1])
    j = r.randrange(len(inner))
    name, raw = inner[j]
    import numpy as np

    array = np.load(io.BytesIO(raw), allow_pickle=False)
    payload = array.tobytes()
    kind = r.choice(["shape", "shape", "descr", "order", "payload", "header", "rename"])
    descr, fortran, shape = array.dtype.str, False, str(tuple(array.shape))
    if kind == "shape":
        shape = r.choice(["()", "(0,)", "(1,)", "(10**9,)", "(1000000000, 1000000000)", "(-1,)", "(-4, -3)",
                          f"({array.size * 2},)", f"({max(array.size - 1, 0)},)", str(tuple(reversed(array.shape))),
                          "(1, " * 60 + ")" * 60, "('a',)", "(1.5,)", "(2**62, 2**62)"])
    elif kind == "descr":
        descr = r.choice(DESCRS)
    elif kind == "order":
        fortran = True
    elif kind == "payload":
        payload = payload[: r.randrange(len(payload) + 1)] if r.random() < 0.5 else payload + r.randbytes(8)
    elif kind == "rename":
        name = r.choice(["w99999.npy", "w0000.npy", "s0000.npy", "w-1.npy", "w1e3.npy", "../w0.npy", "w0"])
    new = _npy(descr, fortran, shape, payload)
    if kind == "header":
        cut = r.randrange(10, len(new))
        new = new[:cut] + r.randbytes(r.choice([1, 4])) + new[cut + 1 :]
    inner[j] = (name, new)
    items[k] = (items[k][0], _zip(inner, zipfile.ZIP_STORED if r.random() < 0.8 else zipfile.ZIP_DEFLATED))
    return _zip(items)


MUTATIONS = {"flip": flip_bytes, "truncate": truncate, "members": edit_members, "json": edit_json, "npy": edit_npy}


def make_case(seeds: dict[str, bytes], seed: int, index: int) -> tuple[str, str, bytes]:
    """Case ``index`` of run ``seed``: (seed file name, mutation name, bytes); deterministic."""
    r = random.Random(seed * 1_000_003 + index)
    base = r.choice(sorted(seeds))
    kind = r.choice(sorted(MUTATIONS))
    return base, kind, MUTATIONS[kind](seeds[base], r)


# -- the worker ------------------------------------------------------------------------------------
WORKER = r"""
import json, os, resource, sys, time
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
import numpy as np
import glassnet as gn
from glassnet.errors import GlassnetError
cap = int(sys.argv[1])
soft, hard = resource.getrlimit(resource.RLIMIT_AS)
resource.setrlimit(resource.RLIMIT_AS, (cap, hard))

def peak_kb():
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return 0

print("ready", flush=True)
for line in sys.stdin:
    path = line.strip()
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
    except OSError:
        pass
    start = time.perf_counter()
    try:
        model = gn.load_model(path)
        outcome = "loaded"
    except GlassnetError as exc:
        outcome = type(exc).__name__
        cause = exc.__context__
        while cause is not None:
            if isinstance(cause, (MemoryError, RecursionError)):
                outcome = "hidden:" + type(cause).__name__
            cause = cause.__context__
    except BaseException as exc:
        outcome = "other:" + type(exc).__name__ + ": " + str(exc)[:200]
    print(json.dumps({"outcome": outcome, "s": time.perf_counter() - start, "peak_kb": peak_kb()}), flush=True)
"""


class Worker:
    """A process that loads one file per request under a memory cap; restarted after a timeout or crash."""

    def __init__(self, cap: int) -> None:
        self.cap = cap
        self.proc: subprocess.Popen[str] | None = None

    def start(self) -> None:
        import glassnet

        package_root = str(Path(glassnet.__file__).resolve().parents[1])  # the worker loads this glassnet
        path = os.pathsep.join(p for p in (package_root, os.environ.get("PYTHONPATH", "")) if p)
        env = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "PYTHONPATH": path}
        self.proc = subprocess.Popen([sys.executable, "-c", WORKER, str(self.cap)], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, text=True, env=env)
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if line.strip() != "ready":
            raise RuntimeError(f"fuzz worker did not start: {line!r}")

    def run(self, path: str, timeout: float) -> dict[str, Any]:
        if self.proc is None or self.proc.poll() is not None:
            self.start()
        assert self.proc is not None and self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write(path + "\n")
        self.proc.stdin.flush()
        ready, _, _ = select.select([self.proc.stdout], [], [], timeout)
        line = self.proc.stdout.readline() if ready else ""
        if not line:
            outcome = "timeout" if not ready else "crash"
            self.stop()
            return {"outcome": outcome, "s": timeout, "peak_kb": 0}
        return json.loads(line)  # type: ignore[no-any-return]

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait()
            self.proc = None


FAILURES = ("other:", "hidden:", "timeout", "crash")


def fuzz(cases: int, seed: int, cap: int = MEMORY_CAP_BYTES, timeout: float = TIME_CAP_S) -> dict[str, Any]:
    """Run ``cases`` mutated files; counts per outcome and mutation, peak RSS and the slowest case."""
    seeds = seed_files()
    worker = Worker(cap)
    outcomes: Counter[str] = Counter()
    by_kind: Counter[str] = Counter()
    failures: list[dict[str, Any]] = []
    slowest: dict[str, Any] = {"s": 0.0}
    peaks: list[int] = []
    try:
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "case.glassnet")
            for index in range(cases):
                base, kind, data = make_case(seeds, seed, index)
                with open(path, "wb") as handle:
                    handle.write(data)
                result = worker.run(path, timeout)
                outcome = result["outcome"]
                outcomes[outcome.split(":")[0] + ":" + outcome.split(":")[1] if ":" in outcome else outcome] += 1
                by_kind[f"{kind}/{'loaded' if outcome == 'loaded' else 'error'}"] += 1
                peaks.append(int(result["peak_kb"]))
                if result["s"] > slowest["s"]:
                    slowest = {"s": result["s"], "index": index, "base": base, "mutation": kind, "outcome": outcome}
                if outcome.startswith(FAILURES):
                    failures.append({"index": index, "base": base, "mutation": kind, "outcome": outcome})
    finally:
        worker.stop()
    peaks.sort()
    return {
        "cases": cases, "seed": seed, "memory_cap_bytes": cap, "time_cap_s": timeout,
        "outcomes": dict(outcomes.most_common()), "by_mutation": dict(sorted(by_kind.items())),
        "failures": failures, "slowest": slowest,
        "peak_rss_kb": {"median": peaks[len(peaks) // 2], "p99": peaks[int(len(peaks) * 0.99)], "max": peaks[-1]},
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cases", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--out", help="write the summary as JSON here")
    args = parser.parse_args(argv)
    start = time.perf_counter()
    summary = fuzz(args.cases, args.seed)
    summary["wall_s"] = round(time.perf_counter() - start, 1)
    text = json.dumps(summary, indent=2)
    print(text)
    if args.out:
        Path(args.out).write_text(text + "\n")
    return 1 if summary["failures"] else 0


if __name__ == "__main__":
    sys.exit(main())
