"""``Sampling``: the reparameterization trick of a variational autoencoder, with its KL term.

Kingma and Welling (2014): the encoder gives the mean mu and the log-variance s = log sigma^2 of
q(z | x) = N(mu, diag(sigma^2)); the layer draws

    z = mu + exp(s / 2) * eps,        eps ~ N(0, I) from the layer's seeded generator,

so z is a differentiable function of (mu, s) for a fixed eps, and adds to the training objective the
KL divergence of q from the prior N(0, I), summed over the latent axis and averaged over the batch:

    KL = -1/2 * (1/N) * sum_n sum_j (1 + s_nj - mu_nj^2 - exp(s_nj)),    times ``kl_weight``

Backward, with g = dL/dz and N the number of samples (rows of every axis but the last):

    dL/dmu = g + kl_weight * mu / N
    dL/ds  = g * eps * exp(s / 2) / 2 + kl_weight * (exp(s) - 1) / (2 N)
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .. import backend
from .._typing import Array
from ..errors import ConfigError, ShapeError
from .base import Layer


def kl_divergence(z_mean: Array, z_log_var: Array) -> float:
    """KL(N(mu, exp(s)) || N(0, I)) = -1/2 sum_j (1 + s_j - mu_j^2 - exp(s_j)), averaged over the samples."""
    n = max(1, z_mean.size // z_mean.shape[-1])
    terms = 1.0 + z_log_var - z_mean * z_mean - np.exp(z_log_var)
    return float(-0.5 * np.sum(terms, dtype=np.float64) / n)


class Sampling(Layer):
    """z = z_mean + exp(z_log_var / 2) * eps, eps ~ N(0, I), from ``[z_mean, z_log_var]``; adds the KL term.

    Args:
        kl_weight: Factor of the KL term added to the training loss (``add_loss``, logged as
            ``kl_loss``); 0 leaves the objective alone. With a reconstruction loss averaged over the
            D features of each sample (``mse``, ``bce``), ``kl_weight = 1 / D`` gives the negative ELBO
            divided by D.
        seed: Seed (or generator) of the noise; ``fit(seed=...)`` re-seeds it through ``reseed``.
        sample: Also sample in inference (``predict``); by default inference returns ``z_mean``.

    Shapes: [z_mean (batch, ..., d), z_log_var (batch, ..., d)] -> z (batch, ..., d).
    """

    takes_input_list = True

    def __init__(self, kl_weight: float = 1.0, seed: int | np.random.Generator | None = None, sample: bool = False,
                 name: str | None = None, trainable: bool = True) -> None:
        super().__init__(name=name, trainable=trainable)
        weight = float(kl_weight)
        if not (np.isfinite(weight) and weight >= 0):
            raise ConfigError(f"Sampling: kl_weight must be a finite number >= 0, got {kl_weight!r}")
        self.kl_weight = weight
        self.sample = bool(sample)
        self.seed = seed if isinstance(seed, (int, np.integer)) else None
        self.rng = backend.make_generator(seed)

    def build(self, input_shape: list[tuple[int, ...]]) -> None:  # type: ignore[override]
        if len(input_shape) != 2 or tuple(input_shape[0]) != tuple(input_shape[1]):
            raise ShapeError(f"layer {self.name!r} (Sampling) takes [z_mean, z_log_var] of one shape, got "
                             f"{input_shape}; hint: the encoder needs two outputs of the latent size")

    def compute_output_shape(self, input_shape: Any) -> tuple[int, ...]:
        return tuple(input_shape[0])

    def reseed(self, rng: np.random.Generator) -> None:
        self.rng = rng

    def noise(self, shape: tuple[int, ...], dtype: Any) -> Array:
        """eps ~ N(0, I) of ``shape`` and ``dtype`` from the layer's generator."""
        return self.rng.standard_normal(shape, dtype=np.dtype(dtype).type)  # type: ignore[call-overload]

    def forward(self, x: list[Array], training: bool = False) -> Array:  # type: ignore[override]
        z_mean, z_log_var = x
        if not training and not self.sample:
            return z_mean
        eps = self.noise(z_mean.shape, z_mean.dtype)
        std = np.exp(z_log_var * z_log_var.dtype.type(0.5))
        scaled = std * eps
        if training:
            self.cache = {"z_mean": z_mean, "std": std, "scaled": scaled}
            if self.kl_weight:
                self.add_loss(self.kl_weight * kl_divergence(z_mean, z_log_var), name="kl_loss")
        return z_mean + scaled

    def backward(self, grad_output: Array) -> list[Array]:  # type: ignore[override]
        z_mean, std, scaled = self.read_cache("z_mean", "std", "scaled")
        half = grad_output.dtype.type(0.5)
        grad_mean = grad_output.copy()
        grad_log_var = grad_output * scaled * half
        if self.kl_weight:
            c = grad_output.dtype.type(self.kl_weight / max(1, z_mean.size // z_mean.shape[-1]))
            grad_mean += z_mean * c
            grad_log_var += (std * std - 1) * (c * half)
        return [grad_mean, grad_log_var]

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "kl_weight": self.kl_weight, "seed": self.seed, "sample": self.sample}
