"""Experiments that measure the notes' claims on real data (``glassnet experiment NAME``).

    vanishing       10-layer sigmoid MLP, N(0, 0.1^2) init, vs ReLU + He init, on digits
    exploding       10-layer linear MLP, N(0, 0.3^2) init: gradients grow with depth; clipping fixes it
    dying_relu      a high learning rate kills ReLU units; Leaky ReLU keeps them alive
    initialization  activation std per layer under N(0, 1), Xavier and He (Glorot 2010, He 2015)
    losses          MSE vs MAE vs Huber on a line with outliers
    activations     sigmoid, tanh, ReLU, Leaky ReLU, ELU, SELU on the same deep net
    memory          recall the first token after T steps: SimpleRNN vs LSTM vs GRU, dL/dh_t (memory.py)

Each writes ``<name>.png`` and ``<name>.md`` (a table) into the output folder and returns an
``ExperimentResult``. The bad and good arms of the first three are also the diagnosis's tests
(``build_arm`` / ``train_arm``). Everything is seeded; each runs in seconds on two cores.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ... import backend, initializers, optimizers
from ..._typing import Array
from ...diagnostics.diagnosis import diagnose
from ...diagnostics.monitor import GradientMonitor
from ...errors import ConfigError, require
from ...layers import Dense, Input
from ...models import Sequential


@dataclass
class ExperimentResult:
    """A table (``columns``, ``rows``), the figure path, and one-line conclusions (``notes``)."""

    name: str
    title: str
    columns: list[str]
    rows: list[list[Any]]
    notes: list[str] = field(default_factory=list)
    figure: Path | None = None

    def table_markdown(self) -> str:
        def cell(text: str) -> str:
            return text.replace("|", "\\|")  # a literal | inside a Markdown table cell

        cells = [[cell(_fmt(v)) for v in row] for row in self.rows]
        lines = ["| " + " | ".join(map(cell, self.columns)) + " |", "|" + "---|" * len(self.columns)]
        lines += ["| " + " | ".join(row) + " |" for row in cells]
        return "\n".join(lines)

    def text(self) -> str:
        return "\n".join([f"# {self.title}", "", self.table_markdown(), "", *(f"- {n}" for n in self.notes)])


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.3g}" if abs(value) >= 1e-3 or value == 0 else f"{value:.2e}"
    return str(value)


def load_digits_flat() -> tuple[Array, Array]:
    """Digits as float32 (1797, 64) in [0, 1] and integer labels."""
    from ...datasets import load_digits

    x, y = load_digits()
    return x.reshape(len(x), -1).astype(np.float32) / 16.0, y


def mlp(depth: int, width: int, activation: Any, init: Any, seed: int, n_in: int = 64, n_out: int = 10) -> Sequential:
    """``depth`` Dense layers (``depth - 1`` hidden of ``width`` units, softmax output), seeded weights."""
    with backend.using_generator(np.random.default_rng(seed)):
        layers = [Dense(width, activation=activation, kernel_initializer=init) for _ in range(depth - 1)]
        return Sequential([Input(shape=(n_in,)), *layers, Dense(n_out, activation="softmax", kernel_initializer=init)])


# -- the arms of experiments 1-3 (also the diagnosis tests) --------------------------------------------
ARMS: dict[str, dict[str, Callable[[int], tuple[Sequential, Any]]]] = {
    "vanishing": {
        "sigmoid": lambda s: (
            mlp(10, 32, "sigmoid", initializers.RandomNormal(0.0, 0.1), s),
            optimizers.SGD(0.1),
        ),
        "relu": lambda s: (mlp(10, 32, "relu", "he_normal", s), optimizers.SGD(0.05)),
    },
    "exploding": {
        "plain": lambda s: (mlp(10, 32, None, initializers.RandomNormal(0.0, 0.3), s), optimizers.SGD(0.01)),
        "clipped": lambda s: (
            mlp(10, 32, None, initializers.RandomNormal(0.0, 0.3), s),
            optimizers.SGD(0.01, clipnorm=1.0),
        ),
    },
    "dying_relu": {
        "relu": lambda s: (mlp(4, 64, "relu", "he_normal", s), optimizers.SGD(0.14, momentum=0.9)),
        "leaky_relu": lambda s: (
            mlp(4, 64, "leaky_relu", "he_normal", s),
            optimizers.SGD(0.14, momentum=0.9),
        ),
    },
}
BAD_ARM = {"vanishing": "sigmoid", "exploding": "plain", "dying_relu": "relu"}


def build_arm(experiment: str, arm: str, seed: int = 0) -> Sequential:
    """The compiled model of one arm of experiments 1-3."""
    try:
        model, optimizer = ARMS[experiment][arm](seed)
    except KeyError:
        choices = {k: list(v) for k, v in ARMS.items()}
        raise ConfigError(f"unknown experiment arm {experiment!r}/{arm!r}; choices: {choices}") from None
    model.compile(optimizer=optimizer, loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def train_arm(experiment: str, arm: str, epochs: int = 10, seed: int = 0, x: Any = None, y: Any = None) -> Any:
    """Train one arm on digits with a ``GradientMonitor``; returns the ``History`` (with ``.diagnostics``)."""
    if x is None:
        x, y = load_digits_flat()
    model = build_arm(experiment, arm, seed)
    with np.errstate(all="ignore"):  # the exploding arm overflows on purpose
        return model.fit(
            x,
            y,
            epochs=epochs,
            batch_size=32,
            verbose=0,
            seed=seed,
            callbacks=[GradientMonitor(probe=x[:256])],
        )


def backprop_norms(model: Sequential, x: Array, y: Array) -> tuple[list[float], list[float]]:
    """At the current weights: each layer's kernel-gradient norm and ‖dL/da‖ of its output, input first."""
    assert model.loss is not None and model.output_shape is not None
    targets = model.loss.prepare_targets(y, model.output_shape, model.dtype)
    y_pred = model.forward(x, training=True)
    fused = model.loss.fused_activation is not None and model.loss.fused_activation == model.output_activation
    grad: Any = model.loss.fused_gradient(targets, y_pred) if fused else model.loss.gradient(targets, y_pred)
    kernel_norms, output_norms = [], []
    for i, layer in enumerate(reversed(model.layers)):
        output_norms.append(float(np.linalg.norm(grad)))  # the output layer's: dL/dz when the loss is fused
        step: Any = layer.backward_preactivation if fused and i == 0 else layer.backward  # type: ignore[attr-defined]
        grad = step(grad)
        kernel_norms.append(float(np.linalg.norm(layer.kernel.grad)))  # type: ignore[attr-defined]
    return kernel_norms[::-1], output_norms[::-1]


def _finding_names(history: Any) -> str:
    return ", ".join(sorted({f.name for f in diagnose(history)})) or "none"


def _figure(ncols: int, width: float = 5.0) -> Any:
    require("matplotlib", "plot")
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width * ncols, 3.8), layout="constrained")
    return fig, fig.subplots(1, ncols, squeeze=False)[0]


def _save(fig: Any, out: Path, name: str) -> Path:
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"{name}.png"
    fig.savefig(path, dpi=110)
    return path


# -- experiment 1 ---------------------------------------------------------------------------------------
def vanishing(out: Path, epochs: int = 10) -> ExperimentResult:
    """Per-layer gradient norms at the start: sigmoid + N(0, 0.1^2) vs ReLU + He; then the diagnosis."""
    x, y = load_digits_flat()
    batch = slice(0, 256)
    sig, relu = build_arm("vanishing", "sigmoid"), build_arm("vanishing", "relu")
    sig_k, sig_a = backprop_norms(sig, x[batch], y[batch])
    relu_k, _ = backprop_norms(relu, x[batch], y[batch])
    rows = []
    for i, layer in enumerate(sig.layers):
        shrink = sig_a[i - 1] / sig_a[i] if i else float("nan")
        # max of sigmoid' is 1/4; the softmax output is fused with the loss, so its row starts from dL/dz
        slope = 0.25 if layer.activation.name == "sigmoid" else 1.0  # type: ignore[attr-defined]
        bound = slope * float(np.linalg.norm(layer.kernel.value, 2)) if i else float("nan")  # type: ignore[attr-defined]
        rows.append([i + 1, sig_k[i], relu_k[i], shrink, bound])
    histories = {arm: train_arm("vanishing", arm, epochs) for arm in ("sigmoid", "relu")}
    fig, (ax,) = _figure(1, 6.0)
    depth = np.arange(1, len(sig_k) + 1)
    ax.semilogy(depth, sig_k, "o-", label="sigmoid, N(0, 0.1^2)")
    ax.semilogy(depth, relu_k, "s-", label="ReLU, He normal")
    ax.set(
        xlabel="layer (1 = input side)",
        ylabel="‖dL/dW‖ at initialization",
        title="Gradient norm per layer, digits, 256 samples",
    )
    ax.legend()
    notes = [
        f"first/last layer gradient norm: sigmoid {sig_k[0] / sig_k[-1]:.1e}, ReLU+He {relu_k[0] / relu_k[-1]:.2f}",
        *(
            f"{arm}: accuracy after {epochs} epochs {h.history['accuracy'][-1]:.3f}, findings: {_finding_names(h)}"
            for arm, h in histories.items()
        ),
    ]
    return ExperimentResult(
        "vanishing",
        "Experiment 1: vanishing gradients",
        [
            "layer",
            "‖dW‖ sigmoid",
            "‖dW‖ ReLU+He",
            "sigmoid shrink ‖dL/da_(i-1)‖/‖dL/da_i‖",
            "bound max f' x ‖W_i‖_2",
        ],
        rows,
        notes,
        _save(fig, out, "vanishing"),
    )


# -- experiment 2 ---------------------------------------------------------------------------------------
def exploding(out: Path, epochs: int = 10) -> ExperimentResult:
    """Gradient norm growth with depth under N(0, 0.3^2) (vs Xavier); plain SGD diverges, clipping trains."""
    x, y = load_digits_flat()
    big = build_arm("exploding", "plain")
    xavier = mlp(10, 32, None, "glorot_normal", 0)
    xavier.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    big_k, big_a = backprop_norms(big, x[:256], y[:256])
    xav_k, xav_a = backprop_norms(xavier, x[:256], y[:256])
    rows = [[i + 1, *values] for i, values in enumerate(zip(big_a, xav_a, big_k, xav_k, strict=True))]
    histories = {arm: train_arm("exploding", arm, epochs) for arm in ("plain", "clipped")}
    fig, (ax1, ax2) = _figure(2)
    depth = np.arange(1, len(big_k) + 1)
    ax1.semilogy(depth, big_a, "o-", label="N(0, 0.3^2)")
    ax1.semilogy(depth, xav_a, "s-", label="Xavier normal")
    ax1.set(
        xlabel="layer (1 = input side)",
        ylabel="‖dL/da‖ of the layer's output at init",
        title="Backpropagated gradient per layer",
    )
    ax1.legend()
    for arm, h in histories.items():
        loss = np.array(h.history["loss"], dtype=float)
        ax2.semilogy(np.arange(1, len(loss) + 1), np.where(np.isfinite(loss), loss, np.nan), "o-", label=arm)
        if not np.isfinite(loss).all():
            first_bad = int(np.argmin(np.isfinite(loss))) + 1
            ax2.annotate(f"{arm}: loss NaN from epoch {first_bad}", (0.35, 0.9), xycoords="axes fraction")
    ax2.set(xlabel="epoch", ylabel="training loss (NaN not drawn)", title="SGD(0.01) vs SGD(0.01, clipnorm=1)")
    ax2.legend()
    notes = [
        f"‖dL/da‖ first/last layer at init: N(0, 0.3^2) {big_a[0] / big_a[-1]:.0f}x, "
        f"Xavier {xav_a[0] / xav_a[-1]:.2f}x; the kernel gradients a_(i-1)^T delta_i are large everywhere "
        f"({min(big_k):.0f} to {max(big_k):.0f} vs about 1) because the forward activations grow too",
        *(
            f"{arm}: final loss {h.history['loss'][-1]:.4g}, accuracy {h.history['accuracy'][-1]:.3f}, "
            f"findings: {_finding_names(h)}"
            for arm, h in histories.items()
        ),
    ]
    return ExperimentResult(
        "exploding",
        "Experiment 2: exploding gradients",
        ["layer", "‖dL/da‖ N(0, 0.3^2)", "‖dL/da‖ Xavier", "‖dW‖ N(0, 0.3^2)", "‖dW‖ Xavier"],
        rows,
        notes,
        _save(fig, out, "exploding"),
    )


# -- experiment 3 ---------------------------------------------------------------------------------------
def dying_relu(out: Path, epochs: int = 10) -> ExperimentResult:
    """SGD(0.14, momentum 0.9) on a 3x64 MLP: dead fraction per layer, ReLU vs Leaky ReLU."""
    histories = {arm: train_arm("dying_relu", arm, epochs) for arm in ("relu", "leaky_relu")}
    rows = []
    fig, axes = _figure(2)
    for ax, (arm, h) in zip(axes, histories.items(), strict=False):
        dead = h.diagnostics.activation_series("dead_fraction")
        hidden = list(dead)[:-1]
        for layer in hidden:
            ax.plot(np.arange(1, len(dead[layer]) + 1), dead[layer], "o-", label=layer)
        ax.set(xlabel="epoch", ylabel="dead fraction (0 on all probe samples)", ylim=(-0.05, 1.05), title=arm)
        ax.legend()
        rows.append([arm, *(dead[layer][-1] for layer in hidden), h.history["accuracy"][-1], _finding_names(h)])
    return ExperimentResult(
        "dying_relu",
        "Experiment 3: dying ReLU at a high learning rate",
        ["activation", "dead hidden 1", "dead hidden 2", "dead hidden 3", "train accuracy", "findings"],
        rows,
        ["SGD(learning_rate=0.14, momentum=0.9), He init, 10 epochs, batch 32"],
        _save(fig, out, "dying_relu"),
    )


def _experiments() -> dict[str, Callable[[Path], ExperimentResult]]:
    from . import memory, more  # they import this module's helpers

    return {
        "vanishing": vanishing,
        "exploding": exploding,
        "dying_relu": dying_relu,
        "initialization": more.initialization,
        "losses": more.losses,
        "activations": more.activations,
        "memory": memory.memory,
    }


NAMES = ("vanishing", "exploding", "dying_relu", "initialization", "losses", "activations", "memory")


def run_experiment(name: str, out: str | Path = "experiments") -> ExperimentResult:
    """Run experiment ``name`` (see ``NAMES``), writing ``<out>/<name>.png`` and ``<out>/<name>.md``."""
    experiments = _experiments()
    if name not in experiments:
        raise ConfigError(f"unknown experiment {name!r}; choose one of: {', '.join(NAMES)}")
    out = Path(out)
    result = experiments[name](out)
    (out / f"{name}.md").write_text(result.text() + "\n")
    return result
