"""Collapsed attention heads, from an ``AttentionMonitor`` record (``history.attention``), as findings.

At the last monitored epoch, head h of layer l with normalized entropy e (0 = every query looks at one
key, 1 = uniform over the keys it may see; see ``diagnostics.attention``) is reported when

    e < ONE_KEY  (0.05)     "collapsed attention head (one key)": a hard one-hot lookup; its softmax is
                            saturated, so its gradient is nearly zero and it stops learning
    e > UNIFORM  (0.98)     "collapsed attention head (uniform)": the head averages its keys, a mean pool,
                            and ignores the query; its scores carry almost no information

The uniform threshold is stricter than ``collapsed_heads``' default (0.95): a trained causal model that
counts tokens (the sort GPT in docs/transformer.md) has heads at 0.96 to 0.98 that are doing their job.
A flag is a question, not a verdict: averaging can be the solution (counting, pooling), and so can a
sharp head (a previous-token head in a language model; the MNIST ViT's later heads, which broadcast one
patch to all, at 98.6% test accuracy: docs/transformer.md). When most queries of the example input pick
the same key, the evidence says so.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .attention import collapsed_heads
from .diagnosis import Finding

ONE_KEY = 0.05
UNIFORM = 0.98

REMEDIES = {
    "one key": [
        "if the model underperforms: lower the learning rate or add warmup (attention logits grew too large too early)",
        "use pre-LN blocks (norm_first=True) and check that scores are scaled by 1/sqrt(key_dim)",
        "add attention dropout; if every head does this, check the positional encoding is not dominating",
    ],
    "uniform": [
        "train longer or raise the learning rate (heads start near uniform and must learn to focus)",
        "check the attention mask and that the inputs carry positional information",
        "if several heads are uniform, fewer heads (or a smaller key_dim) may do the same work",
    ],
}


def attention_findings(record: Any) -> list[Finding]:
    """One ``Finding`` per collapsed head at the record's last monitored epoch (none without a record)."""
    if record is None or not record.epochs:
        return []
    epoch = record.epochs[-1] + 1
    findings = []
    for layer, entropies in record.last().items():
        for head, kind in collapsed_heads(entropies, low=ONE_KEY, high=UNIFORM):
            value = float(entropies[head])
            what = (
                "every query puts nearly all its weight on a single key"
                if kind == "one key"
                else "every query spreads its weight almost evenly over the keys, like a mean pool"
            )
            evidence = (
                f"head {head + 1} of {len(entropies)} has normalized attention entropy {value:.3f} "
                f"on the validation batch at epoch {epoch} ({what}; 0 = one key, 1 = uniform)"
                + (_shared_key(record.maps.get(layer), head) if kind == "one key" else "")
            )
            findings.append(Finding(f"collapsed attention head ({kind})", layer, evidence, list(REMEDIES[kind])))
    return findings


def _shared_key(maps: Any, head: int) -> str:
    """ ", and k of n queries of the example input look at key j" when most pick the same key: a head that
    broadcasts one position to all (it may be routing on purpose), rather than a per-query lookup."""
    if maps is None or head >= len(maps):
        return ""
    picks = np.asarray(maps[head]).argmax(axis=-1)
    key, count = np.unique(picks, return_counts=True)
    top = int(count.argmax())
    if count[top] * 2 <= len(picks):
        return ""
    return (
        f"; on the example input {int(count[top])} of {len(picks)} queries look at the same key "
        f"(position {int(key[top])}): it broadcasts that position to the sequence"
    )


__all__ = ["ONE_KEY", "UNIFORM", "attention_findings"]
