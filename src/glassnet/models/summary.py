"""``summary_text``: the Keras-like parameter table of a model."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .model import Model


def _shape(shape: tuple[int, ...] | list[tuple[int, ...]] | None) -> str:
    """(None, 28, 28, 1); a layer with several outputs (return_state) as Keras prints it, a list of them."""
    if shape is None:
        return "?"
    if isinstance(shape, list) and shape and isinstance(shape[0], (list, tuple)):
        return "[" + ", ".join(_shape(tuple(s)) for s in shape) + "]"
    return "(None, " + ", ".join(str(s) for s in shape) + ")"


def _split_counts(model: Model) -> tuple[int, int]:
    trainable = sum(p.size for p in model.parameters(trainable_only=True))
    total = sum(p.size for p in model.parameters())
    return trainable, total - trainable


def summary_text(model: Model) -> str:
    """Layer (type), output shape and parameter count per layer; total, trainable, non-trainable."""
    rows = [("Layer (type)", "Output Shape", "Param #")]
    for layer in model.layers:
        count = str(sum(p.size for p in layer.parameters())) if layer.built else "0 (unbuilt)"
        rows.append((f"{layer.name} ({type(layer).__name__})", _shape(layer.output_shape), count))
    widths = [max(len(r[i]) for r in rows) + 2 for i in range(3)]
    rule = "─" * sum(widths)
    lines = [f'Model: "{model.name}"', rule]
    for k, row in enumerate(rows):
        lines.append(row[0].ljust(widths[0]) + row[1].ljust(widths[1]) + row[2].rjust(widths[2] - 2))
        lines.append("═" * sum(widths) if k == 0 else rule if k == len(rows) - 1 else "")
    lines = [line for line in lines if line != ""]
    if not model.built:
        lines.append("The model is not built yet: pass an Input(shape=...) first, or call it on data.")
        return "\n".join(lines)
    trainable, frozen = _split_counts(model)
    lines += [f" Total params: {trainable + frozen:,}", f" Trainable params: {trainable:,}",
              f" Non-trainable params: {frozen:,}", rule]
    return "\n".join(lines)
