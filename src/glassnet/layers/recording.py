"""A temporary hook on ``forward``: report every call of some layers, for inspection tools.

    with recording_forward(layers, record):
        model.forward(x)    # each listed layer, wherever it sits in the model, also calls
                            # record(layer, inputs, output) after computing its output

Inside the block each listed layer's ``forward`` is shadowed by an instance attribute that calls the
class's ``forward`` and then every ``record`` attached to the layer; leaving the block detaches
``record`` again, and once a layer has no record left the attribute is deleted. So the hook works in
any model that calls ``layer.forward`` (Sequential, Functional graphs, nested models), for layers
that check their own inputs too, and costs nothing outside the block: the normal path runs no extra
code at all. Blocks may nest and overlap (two monitors on one model). A recorded ``forward`` that
raises detaches every record from its layer, so a failed call never leaves a layer recorded.

``record`` receives the arguments as the layer got them (an array, or a list for a layer with several
inputs) and the output the layer returned, before anyone else sees it (copy it to keep it: inside a
training loop a layer may reuse its output buffer on the next call). Copy or pickle a layer only
outside the block.
"""

from __future__ import annotations

import types
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import Any

from .base import Layer

Record = Callable[[Layer, Any, Any], None]
_RECORDS = "_forward_records"  # instance attribute: the records attached to a layer, in attach order


@contextmanager
def recording_forward(layers: Iterable[Layer], record: Record) -> Iterator[None]:
    """Within the block, every ``forward`` call of each of ``layers`` also calls ``record(layer, x, y)``."""
    attached: list[Layer] = []
    try:
        for layer in layers:
            attach_record(layer, record)
            attached.append(layer)
        yield
    finally:
        for layer in attached:
            detach_record(layer, record)


def attach_record(layer: Layer, record: Record) -> None:
    """Make ``layer.forward`` also call ``record`` until ``detach_record`` (``recording_forward`` pairs them)."""
    records: list[Record] = vars(layer).setdefault(_RECORDS, [])
    if not records:
        layer.forward = types.MethodType(_recorded_forward, layer)  # type: ignore[method-assign]
    records.append(record)


def detach_record(layer: Layer, record: Record) -> None:
    """Undo one ``attach_record``; the layer's own ``forward`` is back once no record is attached."""
    records: list[Record] = vars(layer).get(_RECORDS, [])
    for k, attached in enumerate(records):
        if attached == record:  # ==: a bound method is a new object at each attribute access
            del records[k]
            break
    if not records:
        _detach_all(layer)


def _detach_all(layer: Layer) -> None:
    vars(layer).pop(_RECORDS, None)
    vars(layer).pop("forward", None)


def _recorded_forward(self: Layer, x: Any, training: bool = False) -> Any:
    """The class's ``forward``, then each attached record (a bound method, so a copy binds to the copy)."""
    try:
        output = type(self).forward(self, x, training)
        for record in list(vars(self).get(_RECORDS, [])):
            record(self, x, output)
    except BaseException:
        _detach_all(self)
        raise
    return output
