"""Models: ``Sequential`` (a stack), ``Functional`` (a graph) and the ``Model`` base class they share;
the generative models ``Autoencoder``, ``VAE`` and ``GAN``, built on custom ``train_step`` methods."""

from ..layers import register_layer
from .autoencoder import VAE, Autoencoder
from .functional import Functional
from .gan import GAN
from .model import Model
from .sequential import Sequential
from .steps import unpack_data

# Models are layers: registered in the layer family, a saved model can hold nested models.
register_layer(Sequential)
register_layer(Functional)
for _generative in (Autoencoder, VAE, GAN):
    register_layer(_generative)

__all__ = ["GAN", "VAE", "Autoencoder", "Functional", "Model", "Sequential", "unpack_data"]
