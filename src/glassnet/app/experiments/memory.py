"""Experiment 7: long memory. Recall the first token after T steps; SimpleRNN vs LSTM vs GRU.

Each sequence is T one-hot tokens over 8 symbols: x_1 is one of 4 "class" symbols, x_2 .. x_T are
random distractors; the label is x_1's class (chance 25%). Each cell (32 units, then Dense(4,
softmax)) trains with Adam 3e-3, global_clipnorm 1, batch 50 on ``n_train`` sequences and is tested
on 1,000. Recorded per cell and T: test accuracy, and the gradient through time

    g_t = ||dL/dh_t||  (batch mean over 500 training sequences, loss at step T only)

at initialization and after training (``Recurrent.record_state_grads``), with the ratio g_1 / g_T:
how much of the loss's gradient reaches the step that holds the answer. A ``GradientMonitor`` on
the first and last epoch feeds ``diagnose``, whose "vanishing gradients through time" finding is
listed per cell.

``glassnet experiment memory`` runs a short version (T = 10 and 50, 10 epochs, about a minute on two
cores); ``examples/rnn_memory.py`` runs the full one (T = 10, 20, 50, 100, 20 epochs) whose numbers
are in docs/recurrent.md.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ... import backend, optimizers
from ..._typing import Array
from ...diagnostics.diagnosis import diagnose
from ...diagnostics.monitor import GradientMonitor
from ...diagnostics.through_time import THROUGH_TIME
from ...layers import GRU, LSTM, Dense, Input, SimpleRNN
from ...models import Sequential
from .core import ExperimentResult, _figure, _save

CELLS = {"SimpleRNN": SimpleRNN, "LSTM": LSTM, "GRU": GRU}
SYMBOLS, CLASSES, UNITS = 8, 4, 32


@contextlib.contextmanager
def one_blas_thread() -> Iterator[None]:
    """BLAS limited to one thread (through threadpoolctl, when installed): these matrices are (50, 128)
    and smaller, and on a loaded 2-core machine a multi-threaded BLAS made a GRU epoch 12x slower."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        yield
        return
    with threadpool_limits(limits=1, user_api="blas"):
        yield


def make_data(n: int, steps: int, rng: np.random.Generator) -> tuple[Array, Array]:
    """One-hot sequences (n, steps, 8), float32, and their first token's class (n,)."""
    tokens = rng.integers(CLASSES, SYMBOLS, size=(n, steps))
    labels = rng.integers(0, CLASSES, size=n)
    tokens[:, 0] = labels
    return np.eye(SYMBOLS, dtype=np.float32)[tokens], labels


def gradient_through_time(model: Sequential, x: Array, y: Array) -> list[float]:
    """||dL/dh_t|| (batch mean) for t = 1..T of the model's recurrent layer, one training-mode pass."""
    assert model.loss is not None
    layer: Any = model.layers[0]  # the recurrent layer
    layer.record_state_grads = True
    out = model.forward(x, training=True)
    model.backward(model.loss.gradient(y, out))
    layer.record_state_grads = False
    return [float(v) for v in layer.state_grad_norms]


def run_cell(cell: str, steps: int, epochs: int, seed: int = 0, n_train: int = 3000) -> dict[str, Any]:
    """Train one cell on sequences of length ``steps``: accuracy, gradient through time, findings."""
    rng = np.random.default_rng(seed)
    x, y = make_data(n_train, steps, rng)
    x_test, y_test = make_data(1000, steps, rng)
    backend.set_seed(seed)
    model = Sequential([Input(shape=(steps, SYMBOLS)), CELLS[cell](UNITS), Dense(CLASSES, activation="softmax")])
    model.compile(
        optimizer=optimizers.Adam(3e-3, global_clipnorm=1.0),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    before = gradient_through_time(model, x[:500], y[:500])
    start = time.perf_counter()
    monitor = GradientMonitor(every=max(epochs - 1, 1))  # the first and the last epoch
    history = model.fit(x, y, epochs=epochs, batch_size=50, verbose=0, seed=seed, callbacks=[monitor])
    seconds = time.perf_counter() - start
    after = gradient_through_time(model, x[:500], y[:500])
    accuracy = model.evaluate(x_test, y_test, batch_size=500)["accuracy"]
    through_time = [f for f in diagnose(history) if f.name == THROUGH_TIME]
    return {
        "cell": cell,
        "steps": steps,
        "accuracy": float(accuracy),
        "seconds": seconds,
        "grad_before": before,
        "grad_after": after,
        "diagnosed": bool(through_time),
    }


def plot_curves(results: Sequence[dict[str, Any]], steps: int) -> Any:
    """Two panels: ||dL/dh_t|| / ||dL/dh_T|| over t per cell, at initialization and after training."""
    fig, axes = _figure(2)
    for ax, key, title in ((axes[0], "grad_before", "at initialization"), (axes[1], "grad_after", "after training")):
        for r in results:
            if r["steps"] == steps:
                g = np.asarray(r[key])
                ax.semilogy(np.arange(1, steps + 1), g / g[-1], label=f"{r['cell']} (test acc {r['accuracy']:.2f})")
        ax.set(
            title=f"T = {steps}, {title}",
            xlabel="time step t (the answer is at t = 1)",
            ylabel="||dL/dh_t|| / ||dL/dh_T||",
        )
        ax.grid(True, which="both", alpha=0.3)
    axes[1].legend(fontsize=8)
    return fig


def memory(
    out: Path, lengths: Sequence[int] = (10, 50), epochs: int = 10, seed: int = 0, n_train: int = 3000
) -> ExperimentResult:
    """Accuracy and g_1 / g_T per cell and length (see the module docstring); the figure at the longest T."""
    with one_blas_thread():
        results = [run_cell(cell, steps, epochs, seed, n_train) for steps in lengths for cell in CELLS]
    rows = []
    for steps in lengths:
        mine = [r for r in results if r["steps"] == steps]
        rows.append(
            [
                steps,
                *(r["accuracy"] for r in mine),
                *(
                    f"{r['grad_before'][0] / r['grad_before'][-1]:.0e} -> "
                    f"{r['grad_after'][0] / r['grad_after'][-1]:.0e}"
                    for r in mine
                ),
            ]
        )
    diagnosed = [f"{r['cell']} at T = {r['steps']}" for r in results if r["diagnosed"]]
    notes = [
        f"{n_train:,} training sequences, {epochs} epochs, seed {seed}; chance accuracy 0.25",
        "g_1 / g_T = ||dL/dh_1|| / ||dL/dh_T||, at initialization -> after training",
        f"diagnose (last epoch) found vanishing gradients through time in: {', '.join(diagnosed) or 'none'}",
    ]
    columns = ["T", *(f"{c} acc" for c in CELLS), *(f"{c} g_1/g_T" for c in CELLS)]
    fig = plot_curves(results, max(lengths))
    return ExperimentResult(
        "memory",
        "Experiment 7: long memory (recall the first token after T steps)",
        columns,
        rows,
        notes,
        _save(fig, out, "memory"),
    )
