"""Masks: which time steps of a padded batch are real, passed from layer to layer (as in Keras).

A mask is a boolean array (batch, timesteps), True for real steps. The protocol, all by attributes so
that layers which know nothing of masks need no change:

* A layer that makes or changes a mask defines ``compute_mask(x, mask) -> mask or None``:
  ``Embedding(mask_zero=True)`` returns ``x != 0``; a recurrent layer returns the mask with
  ``return_sequences=True`` and None (the mask is consumed) otherwise.
* A layer that uses a mask sets ``takes_mask = True`` and accepts ``forward(x, training, mask=...)``:
  SimpleRNN, LSTM, GRU (masked steps carry the state), Bidirectional, TimeDistributed.
* A layer that works on each time step alone sets ``supports_masking = True`` and passes the mask on
  unchanged when its output keeps the (batch, timesteps) axes: Dense, Dropout and the activation
  layers applied to (batch, T, features), as Keras does.
* Any other layer reached by a mask raises a ``ShapeError``: it would mix padded steps into real ones.

A mask that reaches a model's output (batch, T, features) (e.g. Dense after an LSTM with
return_sequences) leaves the padded steps out of the loss and the metrics, as in Keras
(``models.weighting``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from .._typing import Array
from ..errors import ShapeError
from .base import Layer


def forward_layers(layers: Sequence[Layer], x: Any, training: bool = False) -> Any:
    """y = layer_n(... layer_1(x)), each layer given the mask its predecessor produced (see above)."""
    return forward_layers_masked(layers, x, training)[0]


def forward_layers_masked(layers: Sequence[Layer], x: Any, training: bool = False) -> tuple[Any, Array | None]:
    """``forward_layers``, and the mask that reached the output (None if none did)."""
    mask = None
    for layer in layers:
        y = layer.forward(x, training) if mask is None else forward_masked(layer, x, mask, training)
        make_mask = getattr(layer, "compute_mask", None)
        if make_mask is not None:
            mask = make_mask(x, mask)
        x = y
    return x, output_mask(x, mask)


def output_mask(y: Any, mask: Array | None) -> Array | None:
    """``mask`` if it fits the (batch, timesteps) axes of an output with a feature axis, else None."""
    if mask is None or getattr(y, "ndim", 0) < mask.ndim + 1 or y.shape[: mask.ndim] != mask.shape:
        return None
    return mask


def forward_masked(layer: Layer, x: Any, mask: Array, training: bool = False) -> Any:
    """``layer.forward`` for an input that carries ``mask``; a clear error where the layer cannot use it."""
    if getattr(layer, "takes_mask", False):
        return layer.forward(x, training, mask=mask)  # type: ignore[call-arg]
    if not getattr(layer, "supports_masking", False):
        raise ShapeError(
            f"layer {layer.name!r} ({type(layer).__name__}) received a mask (from Embedding(mask_zero=True) or a "
            "recurrent layer with return_sequences=True) but cannot use it; hint: end the sequence first with a "
            "recurrent layer that has return_sequences=False, or wrap the layer in TimeDistributed"
        )
    y = layer.forward(x, training)
    if getattr(y, "shape", ())[:2] != mask.shape:
        raise ShapeError(
            f"layer {layer.name!r} ({type(layer).__name__}) passes the mask {mask.shape} on, but its output "
            f"{getattr(y, 'shape', None)} has no (batch, timesteps) axes to apply it to"
        )
    return y
