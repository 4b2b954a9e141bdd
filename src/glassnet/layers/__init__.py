"""Layers: each owns ``forward`` and a hand-derived ``backward`` (see ``layers.base``)."""

from __future__ import annotations

from typing import Any

from .._registry import family
from .activation import ELU, SELU, Activation, LeakyReLU, PReLU, ReLU, Sigmoid, Softmax, Tanh
from .base import Layer
from .core import Dense, Input
from .dropout import Dropout
from .merge import Add, Concatenate, Multiply
from .noise import GaussianNoise
from .normalization import BatchNormalization, LayerNormalization
from .sampling import Sampling

LAYERS = family("layer", Layer)


def register_layer(cls: type[Layer]) -> type[Layer]:
    """Class decorator: make ``cls`` loadable by ``load_model`` and usable as ``type = "..."`` in TOML configs.

    Only registered classes are ever rebuilt from a file or a config, so loading never runs other code.
    ``get_config()`` must return the constructor arguments (see docs/custom_layers.md).
    """
    return LAYERS.register(cls)


for _cls in (Input, Dense, Activation, ReLU, LeakyReLU, PReLU, ELU, Sigmoid, Tanh, SELU, Softmax, Dropout,
             BatchNormalization, LayerNormalization, Add, Concatenate, Multiply, Sampling, GaussianNoise):
    register_layer(_cls)


def serialize_layer(layer: Layer) -> dict[str, Any]:
    """``{"class_name": ..., "config": layer.get_config()}``."""
    return {"class_name": type(layer).__name__, "config": layer.get_config()}


def deserialize_layer(config: dict[str, Any]) -> Layer:
    """Rebuild a layer (or a model: models are layers) from ``serialize_layer``'s output; unknown classes
    are refused with the list of registered ones."""
    return LAYERS.from_config(config)  # type: ignore[no-any-return]


__all__ = ["ELU", "SELU", "Activation", "Add", "BatchNormalization", "Concatenate", "Dense", "Dropout",
           "GaussianNoise", "Input", "Layer", "LayerNormalization", "LeakyReLU", "Multiply", "PReLU", "ReLU",
           "Sampling", "Sigmoid", "Softmax", "Tanh", "deserialize_layer", "register_layer", "serialize_layer"]
