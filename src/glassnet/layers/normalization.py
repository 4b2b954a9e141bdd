"""Normalizing activations: BatchNormalization (over the batch) and LayerNormalization (over features).

Both compute x_hat = (x - mean) / sqrt(var + epsilon) with the biased variance, then y = gamma * x_hat + beta.
With g = dL/dy and n the number of values each statistic was taken over, the backward pass is

    dL/dgamma = sum(g * x_hat)      dL/dbeta = sum(g)
    dL/dx     = gamma / (n * std) * (n * g - sum(g) - x_hat * sum(g * x_hat))

(sums over the normalized axes), which follows from differentiating through mean and var as well as x.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .._typing import Array, Shape
from ..errors import ConfigError, ShapeError
from ._sums import column_sums, row_dots, row_products, row_sums
from .base import Layer


def _check_epsilon(layer: str, epsilon: Any) -> float:
    value = float(epsilon)
    if not (value > 0.0 and math.isfinite(value)):
        raise ConfigError(
            f"{layer}: epsilon must be a finite number > 0, got {epsilon!r}; "
            "hint: it keeps 1/sqrt(var + epsilon) finite for a constant feature"
        )
    return value


class _Normalization(Layer):
    """Shared parts: epsilon, center/scale flags, gamma and beta over the last axis."""

    def __init__(self, epsilon: float, center: bool, scale: bool, name: str | None, trainable: bool) -> None:
        super().__init__(name=name, trainable=trainable)
        self.epsilon = _check_epsilon(type(self).__name__, epsilon)
        self.center = bool(center)
        self.scale = bool(scale)

    def _build_affine(self, input_shape: Shape) -> int:
        if not input_shape:
            raise ShapeError(
                f"layer {self.name!r} ({type(self).__name__}) needs inputs with a feature axis, "
                f"got shape (batch,); hint: reshape to (batch, 1)"
            )
        channels = int(input_shape[-1])
        if self.scale:
            self.gamma = self.add_parameter("gamma", np.ones(channels, dtype=self.dtype))
        if self.center:
            self.beta = self.add_parameter("beta", np.zeros(channels, dtype=self.dtype))
        return channels

    def check_input(self, x: Array) -> None:
        """Only the channel axis is fixed: (batch, ..., channels) with any sizes in between."""
        assert self.input_shape is not None
        if x.ndim < 2 or x.shape[-1] != self.input_shape[-1]:
            raise ShapeError(
                f"layer {self.name!r} ({type(self).__name__}) expected input of shape "
                f"(batch, ..., {self.input_shape[-1]}), got {x.shape}; hint: it was built for "
                f"{self.input_shape[-1]} channels (the last axis)"
            )

    def _affine(self, x_hat: Array) -> Array:
        """gamma * x_hat + beta in a new array (x_hat stays cached for backward)."""
        y = x_hat * self.gamma.value if self.scale else x_hat.copy()
        if self.center:
            y += self.beta.value
        return y

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "epsilon": self.epsilon, "center": self.center, "scale": self.scale}


class BatchNormalization(_Normalization):
    """Batch normalization (Ioffe and Szegedy, 2015) over every axis but the last (the channels).

    Training: x_hat = (x - mu_B) / sqrt(var_B + epsilon) with the batch mean and biased batch variance,
    y = gamma * x_hat + beta, and the moving statistics follow

        moving_mean     = momentum * moving_mean     + (1 - momentum) * mu_B
        moving_variance = momentum * moving_variance + (1 - momentum) * var_B

    Inference: y = gamma * (x - moving_mean) / sqrt(moving_variance + epsilon) + beta.

    Parameters: ``gamma``, ``beta`` (trainable), ``moving_mean``, ``moving_variance`` (non-trainable),
    each of shape (channels,).

    Shapes: x (batch, ..., channels) -> y (batch, ..., channels).

    **Synchronized statistics** (``glassnet.distributed.fit(..., sync_batch_norm=True)``): ``sync`` is then
    an object whose ``sum_(a)`` sums ``a`` over every process in place and whose ``share`` = m / N is
    this process's part of the step's N samples. mu_B, var_B and n are those of the global batch, and the
    two backward sums are summed over processes after the upstream gradient is put on the global scale
    (times ``share``: a mean loss on m rows scales it by N / m); dL/dx goes back on the local scale.
    """

    sync: Any = None  # see "Synchronized statistics"; None: this process's batch only

    def __init__(
        self,
        momentum: float = 0.99,
        epsilon: float = 1e-3,
        center: bool = True,
        scale: bool = True,
        name: str | None = None,
        trainable: bool = True,
    ) -> None:
        super().__init__(epsilon, center, scale, name, trainable)
        momentum = float(momentum)
        if not 0.0 <= momentum <= 1.0:
            raise ConfigError(
                f"BatchNormalization: momentum must be in [0, 1], got {momentum!r}; "
                "hint: it is the weight of the old moving statistics, typically 0.9 to 0.999"
            )
        self.momentum = momentum

    def build(self, input_shape: Shape) -> None:
        channels = self._build_affine(input_shape)
        zeros, ones = np.zeros(channels, dtype=self.dtype), np.ones(channels, dtype=self.dtype)
        self.moving_mean = self.add_parameter("moving_mean", zeros, trainable=False)
        self.moving_variance = self.add_parameter("moving_variance", ones, trainable=False)

    def forward(self, x: Array, training: bool = False) -> Array:
        """Training: x_c = x - mu_B, var_B = mean(x_c^2), y = x_c * (gamma / std) + beta (std = sqrt(var_B + eps)).

        The per-channel scale gamma / std is applied once, so y costs two passes over x_c; the centred input
        x_c and 1 / std are cached (x_hat = x_c / std is never stored).
        """
        if not training:
            return self._inference(x)
        x2 = x.reshape(-1, x.shape[-1])
        n = float(x2.shape[0])
        mean = np.add.reduce(x2, axis=0)
        sync = self.sync
        if sync is not None:  # the global sum and count, in one reduction
            stats = np.append(mean, mean.dtype.type(n))
            sync.sum_(stats)
            mean, n = stats[:-1], float(stats[-1])
        if n == 1.0:
            raise ShapeError(
                f"BatchNormalization {self.name!r}: training needs more than 1 value per channel, got input of "
                f"shape {x.shape} (as PyTorch refuses); hint: train with batches of at least 2 samples")
        mean *= 1.0 / n
        x_c = np.subtract(x2, mean)
        var = np.einsum("ij,ij->j", x_c, x_c)
        if sync is not None:
            sync.sum_(var)
        var *= 1.0 / n  # biased variance
        var_eps = var + self.epsilon
        inv_std = np.sqrt(var_eps, out=var_eps)
        np.divide(1.0, inv_std, out=inv_std)
        self._update_moving(mean, var)
        self.cache = {"x_c": x_c, "inv_std": inv_std, "n": n}
        scale = inv_std * self.gamma.value if self.scale else inv_std
        y = np.multiply(x_c, scale)
        if self.center:
            y += self.beta.value
        return y.reshape(x.shape)

    def _update_moving(self, mean: Array, var: Array) -> None:
        keep, take = self.momentum, 1.0 - self.momentum
        moving_mean, moving_var = self.moving_mean.value, self.moving_variance.value
        moving_mean *= keep
        moving_mean += take * mean
        moving_var *= keep
        moving_var += take * var

    def _inference(self, x: Array) -> Array:
        scale = 1.0 / np.sqrt(self.moving_variance.value + self.epsilon)
        if self.scale:
            scale *= self.gamma.value
        shift = -self.moving_mean.value * scale
        if self.center:
            shift += self.beta.value
        y = x * scale
        y += shift
        return y

    def backward(self, grad_output: Array) -> Array | None:
        """The module formula with x_hat = x_c / std and s = gamma / std (the forward's scale):

            dL/dx = s g - s sum(g) / n - x_c (s / (n std)) sum(g x_hat)

        four passes after the two column sums.
        """
        x_c, inv_std, n = self.read_cache("x_c", "inv_std", "n")
        g = grad_output.reshape(x_c.shape)
        sync = self.sync
        if sync is not None:
            g = g * g.dtype.type(sync.share)  # on the scale of the global batch
        sum_g = np.add.reduce(g, axis=0)
        sum_g_xhat = np.einsum("ij,ij->j", g, x_c)
        if sync is not None:  # both sums over every process, in one reduction
            sums = np.concatenate([sum_g, sum_g_xhat])
            sync.sum_(sums)
            sum_g, sum_g_xhat = sums[: len(sum_g)], sums[len(sum_g) :]
        sum_g_xhat *= inv_std
        if self.scale:
            self.gamma.grad[...] = sum_g_xhat
        if self.center:
            self.beta.grad[...] = sum_g
        if not self.input_grad_required:
            return None
        scale = inv_std * self.gamma.value if self.scale else inv_std
        grad_input = np.multiply(g, scale)
        coef = scale * inv_std
        coef *= sum_g_xhat
        coef *= 1.0 / n
        work = np.multiply(x_c, coef)
        grad_input -= work
        shift = scale * sum_g
        shift *= 1.0 / n
        grad_input -= shift
        if sync is not None:
            grad_input *= grad_input.dtype.type(1.0 / sync.share)  # back on this process's scale
        return grad_input.reshape(grad_output.shape)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "momentum": self.momentum}


class LayerNormalization(_Normalization):
    """Layer normalization (Ba et al., 2016): each sample normalized over its last axis (its features).

    x_hat = (x - mean_f(x)) / sqrt(var_f(x) + epsilon),  y = gamma * x_hat + beta, with the mean and biased
    variance over the last axis. Training and inference compute the same thing (no moving statistics).

    Shapes: x (batch, ..., features) -> y (batch, ..., features); gamma, beta (features,).
    """

    supports_masking = True  # acts on each position alone: a padding mask passes through (layers.masking)

    def __init__(
        self,
        epsilon: float = 1e-3,
        center: bool = True,
        scale: bool = True,
        name: str | None = None,
        trainable: bool = True,
    ) -> None:
        super().__init__(epsilon, center, scale, name, trainable)

    def build(self, input_shape: Shape) -> None:
        self._build_affine(input_shape)

    def forward(self, x: Array, training: bool = False) -> Array:
        n = x.shape[-1]
        x2 = x.reshape(-1, n)
        mean = row_sums(x2)
        mean *= 1.0 / n
        x_hat = x2 - mean[:, None]
        inv_std = row_products(x_hat, x_hat)  # n var, one read of x_hat and no squared copy
        inv_std *= 1.0 / n
        inv_std += self.epsilon
        np.sqrt(inv_std, out=inv_std)
        np.divide(1.0, inv_std, out=inv_std)
        x_hat *= inv_std[:, None]
        if training:
            self.cache = {"x_hat": x_hat, "inv_std": inv_std}
        return self._affine(x_hat).reshape(x.shape)

    def backward(self, grad_output: Array) -> Array | None:
        """With rows r (every axis but the last), g = dL/dy and s = 1 / std of the row:
        dgamma = 1^T (g * x_hat),  dbeta = 1^T g,
        dx = s (gamma g - (g gamma^T) / n - x_hat ((g * x_hat) gamma^T) / n)   (row sums by einsum)."""
        x_hat, inv_std = self.read_cache("x_hat", "inv_std")
        n = x_hat.shape[-1]
        g = grad_output.reshape(-1, n)
        work = g * x_hat
        if self.scale:
            column_sums(work, out=self.gamma.grad)
        if self.center:
            column_sums(g, out=self.beta.grad)
        if not self.input_grad_required:
            return None
        along_xhat = row_dots(work, self.gamma.value) if self.scale else row_sums(work)  # sum_j g gamma x_hat
        along_xhat *= inv_std
        along_xhat *= -1.0 / n
        mean_part = row_dots(g, self.gamma.value) if self.scale else row_sums(g)  # sum_j g gamma
        mean_part *= inv_std
        mean_part *= 1.0 / n
        grad_input = np.multiply(x_hat, along_xhat[:, None])
        grad_input -= mean_part[:, None]
        if self.scale:  # work's content is spent: it takes s gamma g
            np.multiply(g, self.gamma.value, out=work)
        else:
            np.copyto(work, g)
        work *= inv_std[:, None]
        grad_input += work
        return grad_input.reshape(grad_output.shape)
