"""Forward and backward time of single layers on W4's shapes: ``python -m bench.layer_step``.

Each layer runs in training mode on a (256, 512) float32 batch (with a workspace where the layer class
supports one); printed are the minima over 7 repeats of the mean of 200 calls. A layer that allocates
page-faults on every call here, which it does not inside ``fit``: read the numbers as an upper bound.
Run it with ``PYTHONPATH`` pointing at two source trees to compare them.
"""

from __future__ import annotations

import timeit

import numpy as np

import glassnet as gn
from glassnet.layers.workspace import Workspace


def bench(layer: gn.layers.Layer, name: str, x: np.ndarray, g: np.ndarray) -> None:
    layer.build((x.shape[1],))
    if hasattr(type(layer), "workspace"):
        layer.workspace = Workspace()  # type: ignore[attr-defined]
    layer.forward(x, training=True)
    layer.backward(g)
    forward = min(timeit.repeat(lambda: layer.forward(x, training=True), number=200, repeat=7)) / 200
    layer.forward(x, training=True)
    backward = min(timeit.repeat(lambda: layer.backward(g), number=200, repeat=7)) / 200
    print(f"{name:20s} forward {forward * 1e6:7.1f} us   backward {backward * 1e6:7.1f} us")


def main() -> int:
    rng = np.random.default_rng(0)
    x = rng.standard_normal((256, 512), dtype=np.float32)
    g = rng.standard_normal((256, 512), dtype=np.float32)
    bench(gn.layers.BatchNormalization(), "BatchNormalization", x, g)
    bench(gn.layers.ReLU(), "ReLU", x, g)
    bench(gn.layers.Dropout(0.2, seed=0), "Dropout", x, g)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
