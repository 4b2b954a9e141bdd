"""W9's non-GEMM pieces, old against new glassnet, interleaved in one process (minimum of many calls).

``python -m bench.ab_w9_parts OLD_SRC [NEW_SRC] [--reps N]`` loads both ``glassnet`` trees (as
``bench.ab_w2_step`` does) and times, on W9's shapes (batch 32, T 64, d 128, 4 heads, FF 512, float32),
forward + backward of: the feed-forward Dense(512, GELU tanh), a LayerNormalization, and a causal
self-attention (``MultiHeadAttention.attend(..., self_attention=True)`` and ``attend_backward``, which
include its GEMMs). Each piece alternates old/new calls; the minimum over ``--reps`` is the least
disturbed call on a busy machine. Run with one BLAS thread::

    OPENBLAS_NUM_THREADS=1 python -m bench.ab_w9_parts /tmp/w9old/src src --reps 60
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

B, T, E, H, F = 32, 64, 128, 4, 512


def _pieces(gn: Any, rng: np.random.Generator) -> dict[str, Callable[[], Any]]:
    x = rng.standard_normal((B, T, E), dtype=np.float32)
    g_e = rng.standard_normal((B, T, E), dtype=np.float32)
    g_f = rng.standard_normal((B, T, F), dtype=np.float32)
    dense = gn.layers.Dense(F, activation={"class_name": "GELU", "config": {"approximate": "tanh"}})
    dense.build((T, E))
    norm = gn.layers.LayerNormalization(epsilon=1e-5)
    norm.build((T, E))
    mha = gn.layers.MultiHeadAttention(H, E // H)
    mha.build_projections(E, E, E)
    mask = gn.layers.attention.combine_masks(None, True, B, T, T, "ab")
    act = dense.activation

    def gelu() -> Any:
        z = np.matmul(x.reshape(-1, E), dense.kernel.value).reshape(B, T, F)
        if "inplace" in act.forward_saving.__code__.co_varnames:
            _, saved = act.forward_saving(z, inplace=True)
        else:
            _, saved = act.forward_saving(z)
        return act.backward_into(g_f, saved, None)

    def layer_norm() -> Any:
        norm.forward(x, training=True)
        return norm.backward(g_e)

    def attention() -> Any:
        _, cache = mha.attend(x, x, x, mask, True, self_attention=True)
        return mha.attend_backward(g_e, cache)

    return {"GELU forward_saving + backward (B T, 512)": gelu, "LayerNormalization forward + backward": layer_norm,
            "causal self-attention attend + attend_backward (incl. GEMMs)": attention}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("old")
    parser.add_argument("new", nargs="?", default="src")
    parser.add_argument("--reps", type=int, default=60)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        sys.path.insert(0, tmp)
        versions = {"old": _load(args.old, "glassnet_ab_old", Path(tmp)),
                    "new": _load(args.new, "glassnet_ab_new", Path(tmp))}
        pieces = {k: _pieces(gn, np.random.default_rng(0)) for k, gn in versions.items()}
        for name in pieces["old"]:
            best = {"old": np.inf, "new": np.inf}
            for i in range(args.reps):
                for k in ("old", "new") if i % 2 == 0 else ("new", "old"):
                    start = time.process_time()
                    pieces[k][name]()
                    best[k] = min(best[k], time.process_time() - start)
            print(f"{name}: old {best['old'] * 1e3:.3f} ms, new {best['new'] * 1e3:.3f} ms, "
                  f"new / old {best['new'] / best['old']:.2f}")


if __name__ == "__main__":
    main()
