"""Measure the quantities the diagnosis thresholds act on, over a grid of healthy digits runs.

    python examples/diagnosis_calibration.py

Healthy here means: a standard recipe (ReLU family with He init, tanh/sigmoid with Glorot init, 2 to 6
hidden layers, learning rates a practitioner would pick) whose training loss falls. For each run it prints
the first/last layer gradient-norm ratio, the largest hidden dead and saturated fractions at the end, the
range of per-layer update ratios, and the findings (which should be none). The thresholds in
``glassnet.diagnostics.diagnosis`` were chosen against these numbers.
"""

import itertools

import numpy as np

import glassnet as gn
from glassnet.diagnostics import GradientMonitor, diagnose
from glassnet.diagnostics.experiments import load_digits_flat, mlp

x, y = load_digits_flat()
RECIPES = {
    "relu": "he_normal",
    "leaky_relu": "he_normal",
    "elu": "he_normal",
    "tanh": "glorot_uniform",
    "sigmoid": "glorot_uniform",
    "selu": "lecun_normal",
}
OPTIMIZERS = {
    "sgd 0.05": lambda: gn.optimizers.SGD(0.05),
    "sgd 0.01 m0.9": lambda: gn.optimizers.SGD(0.01, momentum=0.9),
    "sgd 0.05 m0.9": lambda: gn.optimizers.SGD(0.05, momentum=0.9),
}
print(
    f"{'activation':11s} {'depth':>5s} {'optimizer':14s} {'loss drop':>9s} {'first/last':>10s} {'dead':>5s} "
    f"{'sat':>5s} {'update ratio range':>19s}  findings"
)
summary = []
for (act, init), depth, (opt_name, make) in itertools.product(RECIPES.items(), (3, 7), OPTIMIZERS.items()):
    model = mlp(depth, 64, act, init, seed=0)
    model.compile(optimizer=make(), loss="sparse_categorical_crossentropy")
    history = model.fit(
        x, y, epochs=8, batch_size=32, verbose=0, seed=0, callbacks=[GradientMonitor(probe=x[:256])]
    )
    record = history.diagnostics
    norms = record.layer_series("grad_norm")
    ratio = np.median(norms[record.layers[0]]) / np.median(norms[record.layers[-1]])
    last = [r for r in record.activations if r["epoch"] == record.epochs()[-1]][:-1]
    dead = max(r["dead_fraction"] for r in last)
    sat = max(r["saturated_fraction"] for r in last)
    updates = [np.median(v) for v in record.layer_series("update_ratio").values()]
    drop = 1 - history.history["loss"][-1] / history.history["loss"][0]
    findings = ", ".join(f.name for f in diagnose(history)) or "none"
    summary.append((ratio, dead, sat, min(updates), max(updates), drop, findings))
    print(
        f"{act:11s} {depth:5d} {opt_name:14s} {drop:9.2f} {ratio:10.3g} {dead:5.2f} {sat:5.2f} "
        f"{min(updates):9.1e}-{max(updates):8.1e}  {findings}"
    )
healthy = [s for s in summary if s[5] > 0.5]
print(f"\n{len(healthy)} of {len(summary)} runs lowered the loss by more than half; over those:")
print(
    f"  first/last gradient norm ratio {min(s[0] for s in healthy):.3g} to {max(s[0] for s in healthy):.3g}"
)
print(
    f"  largest hidden dead fraction {max(s[1] for s in healthy):.2f}, saturated {max(s[2] for s in healthy):.2f}"
)
print(f"  median update ratio per layer {min(s[3] for s in healthy):.1e} to {max(s[4] for s in healthy):.1e}")
print(f"  runs with a finding: {sum(s[6] != 'none' for s in healthy)}")
