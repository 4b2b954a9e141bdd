"""What hostile or large model files cost the loader: wall time, CPU time and peak RSS per case.

Each case is loaded in a fresh process under a 4 GiB address-space cap (so the old loader's
allocations fail instead of exhausting the machine); the same script measures any checkout:

    PYTHONPATH=src python -m bench.model_file_resources            # this checkout
    PYTHONPATH=/work/main/src python -m bench.model_file_resources  # another one, for "before"

Cases: a zip bomb (1.5 GiB of zeros deflated to 1.5 MiB as weights.npz), a config declaring a huge
Dense layer (Input 50,000 -> Dense 200,000: 10**10 weights) beside a tiny weights.npz, and a
Sequential of 16,000 Dense(2) layers saved normally.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

CAP = 4 << 30
LOADER = r"""
import resource, sys, time
resource.setrlimit(resource.RLIMIT_AS, (int(sys.argv[2]), resource.getrlimit(resource.RLIMIT_AS)[1]))
import glassnet as gn
wall, cpu = time.perf_counter(), time.process_time()
try:
    gn.load_model(sys.argv[1])
    outcome = "loaded"
except BaseException as exc:
    outcome = f"{type(exc).__name__}: {str(exc)[:90]}"
wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
peak = next(int(l.split()[1]) for l in open("/proc/self/status") if l.startswith("VmHWM:")) // 1024  # this exec's own
print(f"{wall:.3f}\t{cpu:.3f}\t{peak}\t{outcome}")
"""


def _zip_bomb(path: Path, good: Path) -> None:
    with zipfile.ZipFile(good) as archive:
        config = archive.read("config.json")
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("config.json", config)
        with archive.open("weights.npz", "w", force_zip64=True) as member:
            block = bytes(1 << 24)
            for _ in range(96):  # 1.5 GiB
                member.write(block)


def _huge_dense(path: Path, good: Path) -> None:
    with zipfile.ZipFile(good) as archive:
        config = json.loads(archive.read("config.json"))
        weights = archive.read("weights.npz")
    config["model"]["config"]["input_shape"] = [50_000]
    config["model"]["config"]["layers"][0]["config"]["units"] = 200_000
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("config.json", json.dumps(config))
        archive.writestr("weights.npz", weights)


def make_cases(folder: Path) -> dict[str, Path]:
    import glassnet as gn

    good = folder / "good.glassnet"
    gn.Sequential([gn.layers.Input(shape=(3,)), gn.layers.Dense(2)]).save(good)
    cases = {"zip bomb (1.5 GiB of zeros)": folder / "bomb.glassnet",
             "Dense declared 50,000 x 200,000": folder / "huge.glassnet",
             "16,000 Dense layers": folder / "deep.glassnet"}
    _zip_bomb(cases["zip bomb (1.5 GiB of zeros)"], good)
    _huge_dense(cases["Dense declared 50,000 x 200,000"], good)
    deep = gn.Sequential([gn.layers.Input(shape=(2,))] + [gn.layers.Dense(2) for _ in range(16_000)])
    deep.save(cases["16,000 Dense layers"])
    return cases


def main() -> int:
    files = Path(os.environ.get("GLASSNET_BENCH_FILES", tempfile.mkdtemp()))
    files.mkdir(parents=True, exist_ok=True)
    cases = {p.stem: p for p in files.glob("*.glassnet")}
    if {"bomb", "huge", "deep"} - set(cases):
        make_cases(files)
    labels = {"bomb": "zip bomb (1.5 GiB of zeros)", "huge": "Dense declared 50,000 x 200,000",
              "deep": "16,000 Dense layers"}
    print("case\tfile bytes\twall s\tCPU s\tpeak RSS MiB\toutcome")
    for stem, label in labels.items():
        path = files / f"{stem}.glassnet"
        done = subprocess.run([sys.executable, "-c", LOADER, str(path), str(CAP)], capture_output=True, text=True,
                              check=False, env={**os.environ, "OPENBLAS_NUM_THREADS": "1"})
        line = done.stdout.strip() or f"-\t-\t-\tcrashed ({done.returncode}): {done.stderr.strip()[-120:]}"
        print(f"{label}\t{path.stat().st_size}\t{line}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
