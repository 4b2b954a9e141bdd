"""``Autoencoder`` and ``VAE``: an encoder and a decoder trained to reproduce their input.

Both are ordinary models (a ``Sequential`` of two models, and a three-step graph with a ``Sampling``
layer in the middle) whose ``train_step`` fills in the target: ``fit(x)`` trains x -> x, ``fit(x_noisy,
x_clean)`` a denoising autoencoder. Everything else (``compile``, callbacks, validation, ``save``)
is the plain model machinery; the two ``train_step`` methods below are the whole difference.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .._typing import Array
from ..errors import ConfigError
from ..layers.base import Layer
from ..layers.sampling import Sampling, kl_divergence
from .model import Model
from .sequential import Sequential
from .steps import unpack_data


class Autoencoder(Sequential):
    """x_hat = decoder(encoder(x)), trained on the reconstruction loss L(x, x_hat) (or L(y, x_hat)).

    Args:
        encoder: A model (or layer) mapping x to the code z.
        decoder: A model (or layer) mapping z back to the input space.
        name: Model name.

    ``compile(optimizer, loss="mse")`` as usual; ``fit(x)`` (targets = inputs) or ``fit(x_noisy, x)``.
    """

    encoder: Any
    decoder: Any

    def __init__(self, encoder: Layer, decoder: Layer, name: str | None = None) -> None:
        super().__init__([encoder, decoder], name=name)
        self.encoder, self.decoder = encoder, decoder
        if encoder.built and encoder.input_shape is not None:
            self.build(encoder.input_shape)

    def train_step(self, data: Any) -> dict[str, float]:
        """The built-in step with the input as target when ``fit`` got no ``y``."""
        x, y = unpack_data(data)
        return super().train_step((x, x if y is None else y))

    def test_step(self, data: Any) -> dict[str, float]:
        x, y = unpack_data(data)
        return super().test_step((x, x if y is None else y))

    def encode(self, x: Any) -> Any:
        """The code z = encoder(x), in inference mode."""
        return self.encoder.predict(x)

    def decode(self, z: Any) -> Any:
        """decoder(z), in inference mode."""
        return self.decoder.predict(z)

    def reconstruct(self, x: Any) -> Any:
        """decoder(encoder(x)) = ``predict(x)``."""
        return self.predict(x)

    def get_config(self) -> dict[str, Any]:
        from ..layers import serialize_layer

        return {"name": self.name, "encoder": serialize_layer(self.encoder), "decoder": serialize_layer(self.decoder)}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Autoencoder:
        from ..layers import deserialize_layer

        return cls(deserialize_layer(config["encoder"]), deserialize_layer(config["decoder"]), name=config.get("name"))


class VAE(Model):
    """Variational autoencoder: [mu, s] = encoder(x), z = Sampling()([mu, s]), x_hat = decoder(z).

    The objective is the reconstruction loss plus the ``Sampling`` layer's KL term (times
    ``kl_weight``): with ``loss="binary_crossentropy"`` (a mean over the D pixels) and ``kl_weight = 1/D``
    it is the negative ELBO per image divided by D. ``fit`` logs ``loss``, ``reconstruction_loss``
    and ``kl_loss``.

    Args:
        encoder: A model with two outputs of one shape, ``[z_mean, z_log_var]`` (a ``Functional``
            with ``outputs=[Dense(d)(h), Dense(d)(h)]``).
        decoder: A model mapping z (shape of z_mean) to the input space.
        kl_weight: Factor of the KL term.
        seed: Seed of the sampling noise (``fit(seed=...)`` re-seeds it).
        name: Model name.
    """

    encoder: Any
    decoder: Any
    sampling: Sampling
    seed: int | None

    def __init__(self, encoder: Model, decoder: Layer, kl_weight: float = 1.0, seed: int | None = None,
                 name: str | None = None) -> None:
        super().__init__(name=name)
        shapes = encoder.output_shape if encoder.built else None
        if not (isinstance(shapes, list) and len(shapes) == 2 and tuple(shapes[0]) == tuple(shapes[1])):
            raise ConfigError(f"VAE: the encoder must be a built model with two outputs of one shape [z_mean, "
                              f"z_log_var], got output shape {shapes}; hint: gn.Model(inputs=x, outputs=[Dense(d)(h), "
                              "Dense(d)(h)])")
        self.encoder, self.decoder = encoder, decoder
        self.sampling = Sampling(kl_weight=kl_weight, seed=seed, name="sampling")
        self.seed = seed
        if encoder.name == decoder.name:
            decoder.name = f"{decoder.name}_1"
        self.layers = [encoder, self.sampling, decoder]
        for layer in self.layers:
            layer.set_scope(self.child_scope)
        self.build(encoder.input_shape)

    @property
    def kl_weight(self) -> float:
        return self.sampling.kl_weight

    def build(self, input_shape: Any) -> None:
        latent = tuple(self.encoder.output_shape[0])  # type: ignore[index]
        self.sampling.build([latent, latent])
        if not self.decoder.built:
            self.decoder.build(latent)
        self.pack()

    def compute_output_shape(self, input_shape: Any) -> Any:
        return self.decoder.output_shape

    @property
    def takes_input_list(self) -> bool:  # type: ignore[override]
        return self.encoder.takes_input_list

    def check_input(self, x: Any) -> None:
        self.encoder.check_input(x)

    def _output_layers(self) -> list[Layer]:
        return [self.decoder]

    def _input_grad_needs(self, required: bool) -> list[tuple[Layer, bool]]:
        return [(self.encoder, required), (self.sampling, True), (self.decoder, True)]

    def forward(self, x: Any, training: bool = False) -> Array:
        z_mean, z_log_var = self.encoder.forward(x, training)
        z = self.sampling.forward([z_mean, z_log_var], training)
        return self.decoder.forward(z, training)  # type: ignore[no-any-return]

    def _backward(self, grad: Any, from_preactivation: Any) -> Any:
        """decoder, then Sampling (which adds the KL gradient), then the encoder's two outputs."""
        grad_z = self.decoder.backward_preactivation(grad) if from_preactivation else self.decoder.backward(grad)
        return self.encoder.backward(self.sampling.backward(grad_z))

    # -- training ------------------------------------------------------------------------------
    def train_step(self, data: Any) -> dict[str, float]:
        """The built-in step on (x, x) (or (x, y)); logs the total, the reconstruction loss and the KL term."""
        x, y = unpack_data(data)
        logs = super().train_step((x, x if y is None else y))
        return {"loss": logs.pop("loss"), "reconstruction_loss": self._last_output_loss,
                "kl_loss": logs.pop("kl_loss", 0.0), **logs}

    def test_step(self, data: Any) -> dict[str, float]:
        """Inference: decode z = z_mean; reconstruction loss plus the KL term (times ``kl_weight``)."""
        x, y = unpack_data(data)
        z_mean, z_log_var = self.encoder.forward(x, training=False)
        x_hat = self.decoder.forward(z_mean, training=False)
        reconstruction = self._loss_value(x if y is None else y, x_hat, update_metrics=True)
        kl = self.kl_weight * kl_divergence(z_mean, z_log_var)
        return {"loss": reconstruction + kl, "reconstruction_loss": reconstruction, "kl_loss": kl,
                **{metric.name: metric.result() for metric in self.metrics}}

    # -- using it ------------------------------------------------------------------------------
    def encode(self, x: Any) -> Array:
        """z_mean for x (the centre of q(z | x)), in inference mode."""
        return self.encoder.predict(x)[0]  # type: ignore[no-any-return]

    def decode(self, z: Any) -> Any:
        return self.decoder.predict(z)

    def reconstruct(self, x: Any, sample: bool = False, seed: int | None = None) -> Any:
        """decoder(z_mean), or decoder(z) with z drawn from q(z | x) when ``sample`` (seeded by ``seed``)."""
        z_mean, z_log_var = self.encoder.predict(x)
        if sample:
            eps = np.random.default_rng(seed).standard_normal(z_mean.shape).astype(z_mean.dtype)
            z_mean = z_mean + np.exp(0.5 * z_log_var) * eps
        return self.decode(z_mean)

    def sample(self, n: int, seed: int | None = None) -> Any:
        """n draws from the model: decoder(z) with z ~ N(0, I) from ``np.random.default_rng(seed)``."""
        shape = (int(n), *self.encoder.output_shape[0])  # type: ignore[index]
        z = np.random.default_rng(seed).standard_normal(shape).astype(self.dtype)
        return self.decode(z)

    def get_config(self) -> dict[str, Any]:
        from ..layers import serialize_layer

        return {"name": self.name, "encoder": serialize_layer(self.encoder), "decoder": serialize_layer(self.decoder),
                "kl_weight": self.kl_weight, "seed": self.seed}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> VAE:
        from ..layers import deserialize_layer

        return cls(deserialize_layer(config["encoder"]), deserialize_layer(config["decoder"]),  # type: ignore[arg-type]
                   kl_weight=config.get("kl_weight", 1.0), seed=config.get("seed"), name=config.get("name"))
