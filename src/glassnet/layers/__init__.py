"""Layers: each owns ``forward`` and a hand-derived ``backward`` (see ``layers.base``)."""

from __future__ import annotations

from typing import Any

from ..errors import ConfigError
from .activation import ELU, SELU, Activation, LeakyReLU, PReLU, ReLU, Sigmoid, Softmax, Tanh
from .base import Layer
from .core import Dense, Input
from .dropout import Dropout
from .embedding import Embedding
from .gru import GRU
from .lstm import LSTM
from .merge import Add, Concatenate, Multiply
from .normalization import BatchNormalization, LayerNormalization
from .simple_rnn import SimpleRNN
from .wrappers import Bidirectional, TimeDistributed

_LAYERS: dict[str, type[Layer]] = {}


def register_layer(cls: type[Layer]) -> type[Layer]:
    """Allow ``cls`` to be rebuilt from a saved config (only registered classes can be loaded)."""
    _LAYERS[cls.__name__] = cls
    return cls


for _cls in (Input, Dense, Activation, ReLU, LeakyReLU, PReLU, ELU, Sigmoid, Tanh, SELU, Softmax, Dropout,
             BatchNormalization, LayerNormalization, Add, Concatenate, Multiply,
             SimpleRNN, LSTM, GRU, Embedding, Bidirectional, TimeDistributed):
    register_layer(_cls)


def serialize_layer(layer: Layer) -> dict[str, Any]:
    return {"class_name": type(layer).__name__, "config": layer.get_config()}


def deserialize_layer(config: dict[str, Any]) -> Layer:
    """Rebuild a layer from ``serialize_layer``'s output; unknown classes are refused."""
    name = config.get("class_name")
    if name in ("Sequential", "Functional"):
        from .. import models

        return getattr(models, name).from_config(config.get("config", {}))  # type: ignore[no-any-return]
    if name not in _LAYERS:
        raise ConfigError(f"unknown layer class {name!r} in config; known: {', '.join(sorted(_LAYERS))}")
    cls = _LAYERS[name]
    from_config = getattr(cls, "from_config", None)
    if from_config is not None:
        return from_config(config.get("config", {}))  # type: ignore[no-any-return]
    return cls(**config.get("config", {}))


__all__ = ["ELU", "SELU", "Activation", "Add", "BatchNormalization", "Concatenate", "Dense", "Dropout", "Input",
           "Layer", "LayerNormalization", "LeakyReLU", "Multiply", "PReLU", "ReLU", "Sigmoid", "Softmax", "Tanh",
           "deserialize_layer", "register_layer", "serialize_layer",
           "GRU", "LSTM", "SimpleRNN", "Embedding", "Bidirectional", "TimeDistributed"]
