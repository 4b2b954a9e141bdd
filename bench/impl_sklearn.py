"""scikit-learn's MLPClassifier, one epoch (``max_iter=1``), float32 input, no L2 penalty."""

from __future__ import annotations

import gc
import time
import warnings

import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.neural_network import MLPClassifier

from bench.workloads import Workload


def build(w: Workload, optimizer: str, seed: int) -> MLPClassifier:
    solver = {"adam": "adam"}.get(optimizer, "sgd")
    return MLPClassifier(
        hidden_layer_sizes=w.hidden,
        activation="relu",
        solver=solver,
        alpha=0.0,
        batch_size=w.batch_size,
        learning_rate_init=w.learning_rate,
        max_iter=1,
        shuffle=True,
        random_state=seed,
        tol=0.0,
        momentum=0.9,
        nesterovs_momentum=False,
    )


def train(w: Workload, x: np.ndarray, y: np.ndarray, optimizer: str, seed: int) -> dict[str, float]:
    target = y.ravel().astype(np.int64)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        n = 4 * w.batch_size
        build(w, optimizer, seed).fit(x[:n], target[:n])
        gc.collect()  # the same for every implementation: no warm-up model left in memory
        model = build(w, optimizer, seed)
        start = time.perf_counter()
        model.fit(x, target)
        seconds = time.perf_counter() - start
    return {"epoch_s": seconds, "final_loss": float(model.loss_)}
