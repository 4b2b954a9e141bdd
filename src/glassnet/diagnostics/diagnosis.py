"""``diagnose(history)``: turn a ``GradientMonitor`` record into findings, each with evidence and remedies.

Rules (thresholds measured on digits runs, see examples/diagnosis_calibration.py and notes/issue-6.md:
SGD, momentum, Adam, RMSprop, Adagrad; plain, batch-normalized and dropout MLPs of 2 to 6 hidden layers):

    vanishing gradients   first trainable layer's gradient norm < 1e-3 x the last layer's
                          (median over epochs; healthy runs: 0.15 to 5, 10-layer sigmoid: 3e-8)
    exploding gradients   a non-finite loss or gradient norm; or first layer's norm > 1e3 x the last's;
                          or the total gradient norm grows 100x over training while the loss does not fall
    dying ReLU            a hidden ReLU-family layer whose units are dead (0 on every probe sample) for
                          more than half of them at the last epoch (healthy runs: up to 0.39, because
                          digits pixels are >= 0 and some first-layer units start with negative weights)
    dead channels         (dying ReLU) a hidden ReLU-family conv layer (or image-shaped ReLU output, see
                          ``Diagnostics.channels``) with more than half of its channels mostly dead: 0
                          for at least 99% of the probe samples x positions at the last epoch; reported
                          with the dead channels' numbers unless the layer is already flagged above
    saturated units       a hidden sigmoid/tanh layer with more than 70% of its outputs within 1% of
                          the bounds at the last epoch (healthy runs: up to 0.67; trained tanh units do
                          become fairly binary, so only a large majority counts)
    learning rate too high  median update ratio ||step|| / ||w|| over layers and epochs > 1e-1, or the
                          training loss of the last epoch 10% above the first's (3 epochs or more)
    vanishing through time  a recurrent layer's ||dL/dh_1|| < 1e-4 x ||dL/dh_T|| at the last monitored
                          epoch (``through_time.py``; failed long-memory runs: 1e-5 or less, solved: 5e-3+)
    learning rate too low   every layer's update ratio < 1e-5 in every epoch, and the loss fell by less
                          than half (healthy runs: median ratios 2.1e-4 to 2.6e-2 per layer, against the
                          rule of thumb 1e-3)

In a graph (branches, several inputs or outputs, nested models) "first" and "last" are taken per
path: every trainable layer with no trainable layer upstream (the first of its branch) is compared with
every trainable layer downstream of it that has no trainable layer after it (the last before an
output), and the worst ratio is reported, naming both. An MLP has one such pair, its first and last
layer. The data flow comes from the monitor's probe pass (``Diagnostics.feeds``); a record without it
is read as a chain, ``layers`` in order.

Attention models trained with an ``AttentionMonitor`` also get "collapsed attention head" findings
(a head whose normalized entropy is near 0 or near 1; ``diagnostics.attention_diagnosis``).

The output layers are left out of the dead and saturated checks: a softmax or sigmoid output is
supposed to approach 0 and 1 on a well-fitted sample.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .monitor import RELU_FAMILY, SATURATING, Diagnostics
from .through_time import THROUGH_TIME, THROUGH_TIME_REMEDIES, vanishing_through_time

VANISHING_RATIO = 1e-3
EXPLODING_RATIO = 1e3
EXPLODING_GROWTH = 1e2
DEAD_FRACTION = 0.5
MOSTLY_DEAD = 0.99  # a channel whose outputs are 0 this often over the probe samples and positions
SATURATED_FRACTION = 0.7
UPDATE_RATIO_HIGH = 1e-1
UPDATE_RATIO_LOW = 1e-5
LOSS_RISE = 1.1

REMEDIES = {
    "vanishing gradients": [
        "use ReLU-family activations (relu, leaky_relu, elu) in hidden layers",
        "use He (ReLU) or Xavier/Glorot (tanh, sigmoid) initialization",
        "add batch normalization",
        "add residual (skip) connections",
    ],
    "exploding gradients": [
        "clip gradients (SGD(..., clipnorm=1.0))",
        "use a better initialization (Xavier/Glorot or He scaling)",
        "lower the learning rate",
    ],
    "dying ReLU": ["use Leaky ReLU, PReLU or ELU", "lower the learning rate", "use He initialization"],
    "saturated units": [
        "use ReLU-family activations",
        "use Xavier/Glorot initialization",
        "standardize the inputs",
        "add batch normalization",
    ],
    "learning rate too high": ["lower the learning rate about 10x", "use a decaying schedule"],
    "learning rate too low": ["raise the learning rate about 10x", "use an adaptive optimizer"],
    THROUGH_TIME: THROUGH_TIME_REMEDIES,  # recurrent layers, from ||dL/dh_t|| (see through_time.py)
}


@dataclass
class Finding:
    """One diagnosed problem: ``name``, the ``layer`` it is seen in, the ``evidence`` and the ``remedies``."""

    name: str
    layer: str
    evidence: str
    remedies: list[str] = field(default_factory=list)

    @property
    def text(self) -> str:
        return f"{self.name} in layer {self.layer!r}: {self.evidence}. Try: {'; '.join(self.remedies)}."

    def __str__(self) -> str:
        return self.text


def _finding(name: str, layer: str, evidence: str) -> Finding:
    return Finding(name, layer, evidence, list(REMEDIES[name]))


def _median(values: list[float]) -> float:
    finite = [v for v in values if math.isfinite(v)]
    return float(np.median(finite)) if finite else math.nan


def diagnose(history: Any) -> list[Finding]:
    """Findings for a ``History`` from ``fit(..., diagnose=True)`` / a ``GradientMonitor`` (or its record),
    plus collapsed attention heads when an ``AttentionMonitor`` recorded ``history.attention``."""
    from .attention_diagnosis import attention_findings  # that module builds on Finding, defined here
    from .attention_monitor import AttentionRecord

    record = history if isinstance(history, Diagnostics) else getattr(history, "diagnostics", None)
    attention = history if isinstance(history, AttentionRecord) else getattr(history, "attention", None)
    if record is None and attention is None:
        raise ValueError(
            "diagnose needs the record of a GradientMonitor: train with fit(..., diagnose=True) "
            "or callbacks=[GradientMonitor()], got a history without diagnostics"
        )
    findings = []
    if record is not None:
        findings += _gradient_flow(record) if record.gradients else []
        findings += _activation_findings(record)
        findings += [_finding(THROUGH_TIME, layer, evidence) for layer, evidence in vanishing_through_time(record)]
        nonfinite = any("NaN" in f.evidence for f in findings)  # NaN weights make the update ratio meaningless
        if record.gradients and not nonfinite:
            findings += _learning_rate(record)
    return findings + attention_findings(attention)  # collapsed heads, from an AttentionMonitor


def _gradient_flow(record: Diagnostics) -> list[Finding]:
    norms = record.layer_series("grad_norm")
    first = record.layers[0]
    nonfinite = [v for series in norms.values() for v in series if not math.isfinite(v)]
    bad_loss = [v for v in record.loss if not math.isfinite(v)]
    if bad_loss or nonfinite:
        where = next((n for n in record.layers if any(not math.isfinite(v) for v in norms[n])), first)
        what = "the loss" if bad_loss else "the gradient norm"
        return [_finding("exploding gradients", where, f"{what} became NaN or Inf during training")]
    findings = [f for first, lasts in _first_and_last_layers(record).items() for f in _path_ratio(norms, first, lasts)]
    total = np.sqrt(np.sum(np.square([norms[n] for n in record.layers]), axis=0))
    growth = float(total.max() / max(total[0], 1e-300))
    if growth > EXPLODING_GROWTH and record.loss and record.loss[-1] >= record.loss[0]:
        layer = max(record.layers, key=lambda n: max(norms[n]))
        findings.append(
            _finding(
                "exploding gradients",
                layer,
                f"the total gradient norm grew {growth:.0f}x during training while the loss "
                f"did not fall ({record.loss[0]:.3g} -> {record.loss[-1]:.3g})",
            )
        )
    return findings


def _path_ratio(norms: dict[str, list[float]], first: str, lasts: list[str]) -> list[Finding]:
    """Vanishing or exploding gradients between ``first`` and the worst of ``lasts`` (median norms)."""
    ratios = {last: _median(norms[first]) / max(_median(norms[last]), 1e-300) for last in lasts}
    ratios = {last: r for last, r in ratios.items() if not math.isnan(r)}
    if not ratios:
        return []
    smallest, largest = min(ratios, key=ratios.__getitem__), max(ratios, key=ratios.__getitem__)
    head = f"its gradient norm {_median(norms[first]):.2e} is"
    if ratios[smallest] < VANISHING_RATIO:
        last = smallest
        evidence = f"{head} {ratios[last]:.1e} times the last layer's ({last!r}, {_median(norms[last]):.2e})"
        return [_finding("vanishing gradients", first, evidence)]
    if ratios[largest] > EXPLODING_RATIO:
        last = largest
        evidence = f"{head} {ratios[last]:.1e} times the last layer's ({last!r}); gradients grow layer by layer"
        return [_finding("exploding gradients", first, evidence)]
    return []


def _first_and_last_layers(record: Diagnostics) -> dict[str, list[str]]:
    """Per trainable layer with no trainable layer upstream, the trainable layers downstream of it with
    no trainable layer after them (see the module docstring); a chain without ``feeds``."""
    layers = record.layers
    if not record.feeds:
        return {layers[0]: [layers[-1]]} if len(layers) >= 2 else {}
    trainable = set(layers)
    below = {name: _downstream(record.feeds, name) & trainable for name in layers}
    above = {name: {other for other in layers if name in below[other]} for name in layers}
    pairs = {}
    for first in layers:
        lasts = [last for last in layers if last in below[first] and not below[last]]
        if not above[first] and lasts:
            pairs[first] = lasts
    return pairs


def _downstream(feeds: dict[str, list[str]], start: str) -> set[str]:
    """Every layer that ``start``'s output reaches, through any layers in between."""
    found: set[str] = set()
    stack = list(feeds.get(start, []))
    while stack:
        name = stack.pop()
        if name not in found:
            found.add(name)
            stack.extend(feeds.get(name, []))
    return found


def _activation_findings(record: Diagnostics) -> list[Finding]:
    if not record.activations:
        return []
    last_epoch = record.activations[-1]["epoch"]
    rows = [r for r in record.activations if r["epoch"] == last_epoch]
    # the output layers left out (a record without ``outputs`` is a chain: its last row)
    rows = [r for r in rows if r["layer"] not in record.outputs] if record.outputs else rows[:-1]
    findings = []
    for row in rows:
        if row["activation"] in RELU_FAMILY and row["dead_fraction"] > DEAD_FRACTION:
            findings.append(
                _finding(
                    "dying ReLU",
                    row["layer"],
                    f"{row['dead_fraction']:.0%} of its {row['activation']} units output 0 "
                    f"for every probe sample (epoch {last_epoch + 1})",
                )
            )
        if row["activation"] in SATURATING and row["saturated_fraction"] > SATURATED_FRACTION:
            findings.append(
                _finding(
                    "saturated units",
                    row["layer"],
                    f"{row['saturated_fraction']:.0%} of its {row['activation']} outputs sit "
                    f"within 1% of their bounds, where the derivative is nearly 0 "
                    f"(epoch {last_epoch + 1})",
                )
            )
    flagged = {f.layer for f in findings if f.name == "dying ReLU"}
    hidden = {r["layer"] for r in rows}
    return findings + [f for f in _dead_channels(record, last_epoch) if f.layer in hidden - flagged]


def _dead_channels(record: Diagnostics, epoch: int) -> list[Finding]:
    """"dying ReLU" for each layer whose channels are mostly dead (see the module docstring)."""
    per_layer: dict[str, list[dict[str, Any]]] = {}
    for row in record.channels:
        if row["epoch"] == epoch and row["activation"] in RELU_FAMILY:
            per_layer.setdefault(row["layer"], []).append(row)
    findings = []
    for layer, channels in per_layer.items():
        dead = [r["channel"] for r in channels if r["dead_fraction"] >= MOSTLY_DEAD]
        if len(dead) > DEAD_FRACTION * len(channels):
            shown = ", ".join(map(str, dead[:12])) + (", ..." if len(dead) > 12 else "")
            findings.append(
                _finding(
                    "dying ReLU",
                    layer,
                    f"{len(dead)} of its {len(channels)} {channels[0]['activation']} channels are mostly dead: 0 "
                    f"for at least {MOSTLY_DEAD:.0%} of the probe samples and positions (channels {shown}; "
                    f"epoch {epoch + 1})",
                )
            )
    return findings


def _learning_rate(record: Diagnostics) -> list[Finding]:
    ratios = {name: _median(series) for name, series in record.layer_series("update_ratio").items()}
    finite = {name: r for name, r in ratios.items() if math.isfinite(r)}
    if not finite:
        return []
    typical = float(np.median(list(finite.values())))
    fastest = max(finite, key=lambda n: finite[n])
    if typical > UPDATE_RATIO_HIGH:
        layer = fastest
        return [
            _finding(
                "learning rate too high",
                layer,
                f"each step changes the weights by {typical:.1e} of their norm (median over layers; "
                f"{finite[layer]:.1e} here), against about 1e-3 in healthy training",
            )
        ]
    loss = record.loss
    # epoch 1's mean includes the untrained start, so ending 10% above it is a real rise (a converged run
    # continued for a few epochs only wobbles around its minimum)
    if len(loss) >= 3 and loss[-1] > LOSS_RISE * loss[0]:
        return [
            _finding(
                "learning rate too high",
                fastest,
                f"the training loss rose from {loss[0]:.3g} (epoch 1) to {loss[-1]:.3g} (epoch {len(loss)}) "
                f"while this layer moved {finite[fastest]:.1e} of its weight norm per step",
            )
        ]
    # too low: even the largest update of any layer in any epoch is tiny, and the loss has not fallen
    # by half (a run that converged also takes tiny steps at the end, and must not be flagged)
    peak = {
        name: max((v for v in series if math.isfinite(v)), default=0.0)
        for name, series in record.layer_series("update_ratio").items()
    }
    top = max(peak, key=lambda n: peak[n])
    stalled = len(record.loss) >= 2 and record.loss[-1] > 0.5 * record.loss[0]
    if peak[top] < UPDATE_RATIO_LOW and stalled:
        return [
            _finding(
                "learning rate too low",
                top,
                f"even this, the fastest-moving layer, changed by at most {peak[top]:.1e} of its "
                f"weight norm per step, against about 1e-3 in healthy training, and the loss barely "
                f"fell ({record.loss[0]:.3g} -> {record.loss[-1]:.3g})",
            )
        ]
    return []
