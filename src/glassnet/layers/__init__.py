"""Layers: each owns ``forward`` and a hand-derived ``backward`` (see ``layers.base``)."""

from __future__ import annotations

from typing import Any

from .._registry import family
from .activation import ELU, GELU, SELU, Activation, LeakyReLU, PReLU, ReLU, Sigmoid, Softmax, Softplus, Swish, Tanh
from .attention import MultiHeadAttention
from .base import Layer
from .conv import Conv1D, Conv2D
from .conv_transpose import Conv2DTranspose
from .core import Dense, Input
from .dropout import Dropout
from .embedding import Embedding
from .gru import GRU
from .lstm import LSTM
from .merge import Add, Concatenate, Multiply
from .noise import GaussianNoise
from .normalization import BatchNormalization, LayerNormalization
from .patch import PatchEmbedding
from .pooling import (
    AveragePooling1D,
    AveragePooling2D,
    GlobalAveragePooling1D,
    GlobalAveragePooling2D,
    GlobalMaxPooling1D,
    GlobalMaxPooling2D,
    MaxPooling1D,
    MaxPooling2D,
)
from .positional import PositionalEmbedding, SinusoidalPositionalEncoding
from .reshaping import Flatten, Permute, RepeatVector, Reshape
from .sampling import Sampling
from .simple_rnn import SimpleRNN
from .spatial import SpatialDropout2D, UpSampling2D, ZeroPadding2D
from .transformer import TransformerDecoderBlock, TransformerEncoderBlock
from .wrappers import Bidirectional, TimeDistributed

LAYERS = family("layer", Layer)


def register_layer(cls: type[Layer]) -> type[Layer]:
    """Class decorator: make ``cls`` loadable by ``load_model`` and usable as ``type = "..."`` in TOML configs.

    Only registered classes are ever rebuilt from a file or a config, so loading never runs other code.
    ``get_config()`` must return the constructor arguments (see docs/custom_layers.md).
    """
    return LAYERS.register(cls)


for _cls in (Input, Dense, Activation, ReLU, LeakyReLU, PReLU, ELU, Sigmoid, Tanh, SELU, Softmax, Dropout,
             BatchNormalization, LayerNormalization, Add, Concatenate, Multiply, Sampling, GaussianNoise,
             SimpleRNN, LSTM, GRU, Embedding, Bidirectional, TimeDistributed):
    register_layer(_cls)
_CNN_LAYERS = (Conv1D, Conv2D, Conv2DTranspose, MaxPooling1D, MaxPooling2D, AveragePooling1D, AveragePooling2D,
               GlobalAveragePooling1D, GlobalAveragePooling2D, GlobalMaxPooling1D, GlobalMaxPooling2D, UpSampling2D,
               ZeroPadding2D, SpatialDropout2D, Flatten, Reshape, Permute, RepeatVector)
for _cls in _CNN_LAYERS:  # convolutional and reshaping layers (issue 12)
    register_layer(_cls)
for _cls in (GELU, Swish, Softplus, MultiHeadAttention, PositionalEmbedding, SinusoidalPositionalEncoding,
             PatchEmbedding, TransformerEncoderBlock, TransformerDecoderBlock):  # the Transformer issue (#14)
    register_layer(_cls)


def serialize_layer(layer: Layer) -> dict[str, Any]:
    """``{"class_name": ..., "config": layer.get_config()}``."""
    return {"class_name": type(layer).__name__, "config": layer.get_config()}


def deserialize_layer(config: dict[str, Any]) -> Layer:
    """Rebuild a layer (or a model: models are layers) from ``serialize_layer``'s output; unknown classes
    are refused with the list of registered ones."""
    return LAYERS.from_config(config)  # type: ignore[no-any-return]


__all__ = ["ELU", "SELU", "Activation", "Add", "BatchNormalization", "Concatenate", "Dense", "Dropout", "Input",
           "Layer", "LayerNormalization", "LeakyReLU", "Multiply", "PReLU", "ReLU", "Sigmoid", "Softmax", "Tanh",
           "GaussianNoise", "Sampling", "deserialize_layer", "register_layer", "serialize_layer",
           "GRU", "LSTM", "SimpleRNN", "Embedding", "Bidirectional", "TimeDistributed"]
__all__ += [cls.__name__ for cls in _CNN_LAYERS]
__all__ += ["GELU", "MultiHeadAttention", "PatchEmbedding", "PositionalEmbedding", "SinusoidalPositionalEncoding",
            "Softplus", "Swish", "TransformerDecoderBlock", "TransformerEncoderBlock"]
