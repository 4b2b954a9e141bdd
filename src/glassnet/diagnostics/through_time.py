"""The diagnosis rule "vanishing gradients through time", read from the monitor's ``state_grads``.

For a recurrent layer with states h_1 .. h_T (processing order), at its last monitored epoch:

    ratio = ||dL/dh_1|| / ||dL/dh_T||      (batch means, averaged over the epoch's batches)

is the share of the gradient arriving at the last state that survives back to the first. Below
``THROUGH_TIME_RATIO`` = 1e-4 the first steps get (almost) no learning signal: the layer cannot learn
to use what it saw early. Threshold from the long-memory experiment (examples/rnn_memory.py,
docs/recurrent.md): every cell that failed the task ended training with a ratio of 1e-5 or less
(SimpleRNN 2e-6 at T = 20, GRU 9e-6 at T = 50); every cell that solved it ended at 5e-3 or more.
The last epoch is read, not the first: at initialization even an LSTM that learns the task can start
at 1e-9 (T = 100) and open its path during training.

A layer that returns sequences receives gradient at every step directly, so its dL/dh_1 rarely
vanishes; the rule then says little, and it mostly fires for layers that feed only their last state on.
"""

from __future__ import annotations

import math
from typing import Any

THROUGH_TIME = "vanishing gradients through time"
THROUGH_TIME_RATIO = 1e-4
MIN_STEPS = 8  # shorter sequences carry their gradient over few steps: nothing to diagnose
THROUGH_TIME_REMEDIES = [
    "use an LSTM or GRU instead of a SimpleRNN (an LSTM's additive cell path carries the gradient, and "
    "unit_forget_bias=True opens its forget gate from the start; in a GRU a positive bias on the update-gate "
    "block z does the same)",
    "clip gradients (Adam(..., global_clipnorm=1.0)) so that a larger learning rate or recurrent kernel stays stable",
    "use shorter sequences (truncate or chunk them), or return_sequences=True with a loss at every step",
]


def vanishing_through_time(record: Any) -> list[tuple[str, str]]:
    """``(layer, evidence)`` for every recurrent layer whose last monitored ratio is below the threshold."""
    last: dict[str, dict[str, Any]] = {}
    for row in getattr(record, "state_grads", []):
        if row["layer"] not in last or row["epoch"] >= last[row["layer"]]["epoch"]:
            last[row["layer"]] = row
    found = []
    for layer, row in last.items():
        norms = row["norms"]
        if len(norms) < MIN_STEPS or not all(math.isfinite(v) for v in norms) or norms[-1] <= 0:
            continue  # non-finite gradients are the exploding-gradient rule's business
        ratio = norms[0] / norms[-1]
        if ratio < THROUGH_TIME_RATIO:
            found.append(
                (
                    layer,
                    f"||dL/dh_1|| / ||dL/dh_T|| = {ratio:.1e} over T = {len(norms)} steps at epoch "
                    f"{row['epoch'] + 1} (below {THROUGH_TIME_RATIO:.0e}): the first steps get "
                    "almost no gradient, so what the layer saw early cannot be learned",
                )
            )
    return found
