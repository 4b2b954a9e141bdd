"""Measure the quantities the diagnosis thresholds act on, over a grid of digits runs.

    python examples/diagnosis_calibration.py

The grid: plain, batch-normalized and dropout MLPs (2 or 6 hidden layers of 64 units) with ReLU, ELU
(He init), tanh or sigmoid (Glorot init), trained 8 epochs by six optimizer settings a practitioner
would pick. For each run it prints how much the loss fell, the first/last layer gradient-norm ratio,
the largest hidden dead and saturated fractions at the end, the range of per-layer median update
ratios, and the findings. The summary lists, over the runs that lowered the loss by more than half,
the range of each quantity and every finding (a finding there is a candidate false alarm to inspect).
The thresholds in ``glassnet.diagnostics.diagnosis`` were chosen against these numbers.
"""

import itertools

import numpy as np

import glassnet as gn
from glassnet.app.experiments.core import load_digits_flat
from glassnet.diagnostics import GradientMonitor, diagnose

L = gn.layers
x, y = load_digits_flat()
ACTIVATIONS = {"relu": "he_normal", "elu": "he_normal", "tanh": "glorot_uniform", "sigmoid": "glorot_uniform"}
OPTIMIZERS = {
    "sgd 0.05": lambda: gn.optimizers.SGD(0.05),
    "sgd 0.05 m0.9": lambda: gn.optimizers.SGD(0.05, momentum=0.9),
    "adam 1e-3": lambda: gn.optimizers.Adam(1e-3),
    "adam 1e-2": lambda: gn.optimizers.Adam(1e-2),
    "rmsprop 1e-3": lambda: gn.optimizers.RMSprop(1e-3),
    "adagrad 0.05": lambda: gn.optimizers.Adagrad(0.05),
}


def network(kind: str, activation: str, init: str, hidden: int) -> gn.Sequential:
    layers: list = [L.Input(shape=(64,))]
    for _ in range(hidden):
        if kind == "bn":
            layers += [L.Dense(64, kernel_initializer=init), L.BatchNormalization(), L.Activation(activation)]
        else:
            layers.append(L.Dense(64, activation=activation, kernel_initializer=init))
            layers += [L.Dropout(0.3)] if kind == "dropout" else []
    with gn.backend.using_generator(np.random.default_rng(0)):
        return gn.Sequential([*layers, L.Dense(10, activation="softmax")])


print(
    f"{'net':8s} {'act':8s} {'hid':>3s} {'optimizer':14s} {'drop':>5s} {'first/last':>10s} {'dead':>5s} "
    f"{'sat':>5s} {'update ratios':>17s}  findings"
)
rows = []
grid = itertools.product(("plain", "bn", "dropout"), ACTIVATIONS.items(), (2, 6), OPTIMIZERS.items())
for kind, (act, init), hidden, (opt_name, make) in grid:
    model = network(kind, act, init, hidden)
    model.compile(optimizer=make(), loss="sparse_categorical_crossentropy")
    with np.errstate(all="ignore"):
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
    findings = sorted({f.name for f in diagnose(history)})
    rows.append((ratio, dead, sat, min(updates), max(updates), drop, findings))
    print(
        f"{kind:8s} {act:8s} {hidden:3d} {opt_name:14s} {drop:5.2f} {ratio:10.3g} {dead:5.2f} {sat:5.2f} "
        f"{min(updates):8.1e}-{max(updates):8.1e}  {', '.join(findings) or 'none'}"
    )

good = [r for r in rows if r[5] > 0.5]
print(f"\n{len(good)} of {len(rows)} runs lowered the loss by more than half; over those:")
print(f"  first/last gradient-norm ratio {min(r[0] for r in good):.3g} to {max(r[0] for r in good):.3g}")
print(f"  largest hidden dead fraction {max(r[1] for r in good):.2f}, saturated {max(r[2] for r in good):.2f}")
print(f"  median update ratio per layer {min(r[3] for r in good):.1e} to {max(r[4] for r in good):.1e}")
flagged = [r for r in good if r[6]]
print(f"  runs with a finding: {len(flagged)}" + "".join(f"\n    {r[6]} (loss fell {r[5]:.0%})" for r in flagged))
bad = [r for r in rows if not r[5] > 0.5]
print(f"{len(bad)} runs lowered the loss by half or less; {sum(bool(r[6]) for r in bad)} of them have a finding")
