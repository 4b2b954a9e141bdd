"""``functional_summary_text``: the summary table of a graph model, with a "Connected to" column."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .summary import _shape, _split_counts

if TYPE_CHECKING:
    from .functional import Functional


def functional_summary_text(model: Functional) -> str:
    """One row per Input and per layer: output shape, parameters, the layers it takes its inputs from
    (one group per call for a shared layer, separated by ``;``); the output names (several outputs) and
    totals below."""
    rows = [("Layer (type)", "Output Shape", "Param #", "Connected to")]
    for layer, calls in model.connections():
        shape = getattr(layer, "shape", None) if not calls else layer.output_shape
        count = str(sum(p.size for p in layer.parameters()))
        rows.append((f"{layer.name} ({type(layer).__name__})", _shape(shape), count,
                     "; ".join(", ".join(call) for call in calls) or "-"))
    widths = [max(len(r[i]) for r in rows) + 2 for i in range(4)]
    rule = "─" * sum(widths)
    lines = [f'Model: "{model.name}"', rule]
    for k, row in enumerate(rows):
        lines.append(row[0].ljust(widths[0]) + row[1].ljust(widths[1]) + row[2].rjust(widths[2] - 2) + "  "
                     + row[3])
        if k == 0:
            lines.append("═" * sum(widths))
    trainable, frozen = _split_counts(model)
    if len(model.output_names) > 1:
        lines += [rule, f" Outputs: {', '.join(model.output_names)}"]
    lines += [rule, f" Total params: {trainable + frozen:,}", f" Trainable params: {trainable:,}",
              f" Non-trainable params: {frozen:,}", rule]
    return "\n".join(lines)
