"""What the MNIST examples of docs/generative.md share: the data as pixels in [0, 1], and, to run in stages
on a busy machine, a time limit per stage, resuming from the model the last stage saved, and writing the
result (imported by autoencoder_mnist.py, vae_mnist.py, gan_mnist.py, dcgan_mnist.py,
denoising_conv_mnist.py; run those, not this file)."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

import numpy as np

import glassnet as gn

MNIST = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "mnist.npz"  # the project's shared data


def mnist_pixels(path: str | os.PathLike[str], shape: tuple[int, ...] = (784,)) -> tuple[np.ndarray, ...]:
    """``(x, y, x_test, y_test)`` from an .npz with x_train, y_train, x_test, y_test: each image reshaped to
    ``shape``, float32, uint8 pixels divided by 255 so they lie in [0, 1]."""
    x, y, x_test, y_test = gn.datasets.load_npz(path)
    x, x_test = (a.reshape((len(a), *shape)).astype(np.float32) for a in (x, x_test))
    if x.max() > 1.0:
        x /= 255.0
        x_test /= 255.0
    return x, y, x_test, y_test


class TimeLimit(gn.callbacks.Callback):
    """Stops the fit after the batch that passes ``seconds`` (so a run fits a shared machine's time slot)."""

    def __init__(self, seconds: float) -> None:
        super().__init__()
        self.seconds, self.start = seconds, time.perf_counter()

    def on_batch_end(self, batch: int, logs: dict | None = None) -> None:
        if self.seconds and time.perf_counter() - self.start > self.seconds:
            self.model.stop_training = True


def load_or_build(state: str | None, build: Any) -> tuple[Any, bool]:
    """The model saved at ``state`` by an earlier stage (weights and optimizer state), else ``build()``."""
    if state and os.path.exists(state):
        return gn.load_model(state), True
    return build(), False


def report(result: dict[str, Any], out: str | None, samples: np.ndarray | None = None) -> None:
    """Print ``result`` as one JSON line; with ``out``, also write it there (and 64 samples beside it)."""
    print(json.dumps(result))
    if out:
        with open(out, "w") as handle:
            json.dump(result, handle, indent=2)
        if samples is not None:
            np.save(out.replace(".json", "_samples.npy"), samples[:64])
