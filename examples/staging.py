"""What the long MNIST examples share to run in stages on a busy machine: a time limit per stage, resuming
from the model the last stage saved, and writing the result (imported by dcgan_mnist.py,
denoising_conv_mnist.py, gan_mnist.py; run those, not this file)."""

from __future__ import annotations

import json
import os
import time
from typing import Any

import numpy as np

import glassnet as gn


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
