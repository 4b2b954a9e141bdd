"""``GAN``: a generator and a discriminator trained against each other (Goodfellow et al., 2014).

With D(x) the discriminator's logit and sigma the sigmoid, one training step on a batch of n real
samples is, written with the public low-level API (docs/generative.md):

    discriminator step (``d_steps`` times), one batch of n real and n generated samples:
        L_D = BCE(sigma(D([x; G(z)])), [1 - label_smoothing; 0])        (mean over the 2n samples)
        D.backward(dL_D/dlogits);  d_optimizer.step(D's parameters)
    generator step, the non-saturating loss (maximize log D(G(z)) rather than minimize log(1 - D(G(z)))):
        L_G = BCE(sigma(D(G(z))), 1)
        g = D.backward(dL_G/dlogits)   # the gradient flows through D into G's output; D is not updated
        G.backward(g);  g_optimizer.step(G's parameters)

z ~ N(0, I) is drawn from the model's seeded generator. ``label_smoothing`` is one-sided (real labels
1 - s, Salimans et al., 2016).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .. import backend, losses, optimizers
from .._typing import Array
from ..errors import ConfigError
from ..layers.base import Layer
from .model import Model
from .steps import unpack_data


class GAN(Model):
    """Generator G: z (latent_dim,) -> sample; discriminator D: sample -> one logit (no sigmoid).

    Args:
        generator: A model from ``(latent_dim,)`` to the data shape.
        discriminator: A model from the data shape to ``(1,)`` raw scores (a linear last layer).
        latent_dim: Size of z.
        label_smoothing: One-sided smoothing s: real samples get the label 1 - s in the D step.
        d_steps: Discriminator steps per generator step (each on fresh z, same real batch).
        seed: Seed of z (``fit(seed=...)`` re-seeds it).
        name: Model name.

    ``compile(d_optimizer=..., g_optimizer=...)`` (default: Adam(2e-4, beta_1=0.5) each, as in DCGAN);
    ``fit(x_real)`` logs ``d_loss``, ``g_loss``, ``d_accuracy_real``, ``d_accuracy_fake``;
    ``predict(z)`` is G(z); ``sample(n, seed)`` draws z and returns G(z). ``save(path,
    include_optimizer=True)`` keeps both optimizers and their state, so ``load_model`` (or
    ``BackupAndRestore``) resumes training exactly; ``model.optimizer`` is the generator's optimizer.
    """

    generator: Any
    discriminator: Any
    d_optimizer: Any  # set by compile
    g_optimizer: Any

    def __init__(self, generator: Layer, discriminator: Layer, latent_dim: int, label_smoothing: float = 0.0,
                 d_steps: int = 1, seed: int | None = None, name: str | None = None) -> None:
        super().__init__(name=name)
        if isinstance(latent_dim, bool) or not isinstance(latent_dim, (int, np.integer)) or latent_dim <= 0:
            raise ConfigError(f"GAN: latent_dim must be a positive integer, got {latent_dim!r}")
        if not 0.0 <= float(label_smoothing) < 1.0:
            raise ConfigError(f"GAN: label_smoothing must be in [0, 1), got {label_smoothing!r}")
        if isinstance(d_steps, bool) or not isinstance(d_steps, (int, np.integer)) or d_steps < 1:
            raise ConfigError(f"GAN: d_steps must be an integer >= 1, got {d_steps!r}")
        self.generator, self.discriminator = generator, discriminator
        self.latent_dim, self.label_smoothing, self.d_steps = int(latent_dim), float(label_smoothing), int(d_steps)
        self.seed = seed
        self.rng = backend.make_generator(seed)
        self.loss_fn = losses.BinaryCrossentropy(from_logits=True)
        if generator.name == discriminator.name:
            discriminator.name = f"{discriminator.name}_1"
        self.layers = [generator, discriminator]
        for layer in self.layers:
            layer.set_scope(self.child_scope)
        self.build((self.latent_dim,))

    def build(self, input_shape: Any) -> None:
        """Build G on z and D on G's output; each keeps its own parameter pack (one optimizer each)."""
        if not self.generator.built:
            self.generator.build(tuple(input_shape))
        elif tuple(self.generator.input_shape or ()) != tuple(input_shape):
            raise ConfigError(f"GAN: the generator takes inputs {self.generator.input_shape}, but latent_dim is "
                              f"{input_shape[0]}; hint: give the generator Input(shape=(latent_dim,))")
        if not self.discriminator.built:
            self.discriminator.build(tuple(self.generator.output_shape))  # type: ignore[arg-type]
        if tuple(self.discriminator.output_shape or ()) != (1,):
            raise ConfigError(f"GAN: the discriminator must output one logit per sample, shape (1,), got "
                              f"{self.discriminator.output_shape}; hint: end it with Dense(1) (no activation)")
        if self.discriminator.output_activation not in (None, "linear"):
            raise ConfigError(f"GAN: the discriminator ends in {self.discriminator.output_activation!r}, but the loss "
                              "takes logits; hint: end it with Dense(1) and no activation")

    def compute_output_shape(self, input_shape: Any) -> Any:
        return self.generator.output_shape

    def _output_layers(self) -> list[Layer]:
        return [self.generator]

    def forward(self, x: Array, training: bool = False) -> Array:
        """G(z)."""
        return self.generator.forward(x, training)  # type: ignore[no-any-return]

    def _backward(self, grad: Any, from_preactivation: Any) -> Any:
        if from_preactivation:
            return self.generator.backward_preactivation(grad)
        return self.generator.backward(grad)

    def reseed(self, rng: np.random.Generator) -> None:
        self.rng = np.random.default_rng(rng.integers(2**63))
        super().reseed(rng)

    # -- training ------------------------------------------------------------------------------
    def compile(self, d_optimizer: Any = None, g_optimizer: Any = None, **options: Any) -> None:  # type: ignore[override]
        """One optimizer per network (names or objects); default Adam(learning_rate=2e-4, beta_1=0.5) each."""
        super().compile(
            optimizer=None, loss=None,
            d_optimizer=d_optimizer if d_optimizer is not None else optimizers.Adam(2e-4, beta_1=0.5),
            g_optimizer=g_optimizer if g_optimizer is not None else optimizers.Adam(2e-4, beta_1=0.5),
            **options,
        )
        # fit logs this optimizer's learning rate and BackupAndRestore counts steps with it: one
        # generator step per training step
        self.optimizer = self.g_optimizer

    def named_optimizers(self) -> dict[str, Any]:
        """``{"d_optimizer": ..., "g_optimizer": ...}`` once compiled (else ``{}``): what ``save`` keeps,
        with each one's state under ``include_optimizer=True``, and ``load_model`` compiles back."""
        if not self.compile_options:
            return {}
        return {"d_optimizer": self.d_optimizer, "g_optimizer": self.g_optimizer}

    def restore_state(self, path: Any) -> None:
        """Weights and both optimizers' state from ``save(path, include_optimizer=True)`` of this same GAN."""
        from ..errors import ModelFileError
        from .saving import load_model

        loaded = load_model(path, allow_nonfinite=True)
        if not isinstance(loaded, GAN) or [(p.name, p.value.shape) for p in loaded.parameters()] != [
                (p.name, p.value.shape) for p in self.parameters()]:
            raise ModelFileError(f"{path}: the file holds a different model; hint: one backup folder per run")
        for target, source in zip(self.parameters(), loaded.parameters()):
            target.value = source.value
        for key, optimizer in self.named_optimizers().items():
            optimizer.set_state(loaded.named_optimizers()[key].get_state())

    def noise(self, n: int) -> Array:
        """z ~ N(0, I), shape (n, latent_dim), from the model's generator."""
        return self.rng.standard_normal((n, self.latent_dim), dtype=np.dtype(self.dtype).type)  # type: ignore[call-overload]

    def discriminator_step(self, real: Array) -> dict[str, float]:
        """One update of D on n real and n generated samples; G is not touched (its caches aside)."""
        n = len(real)
        fake = self.generator.forward(self.noise(n), training=True)
        samples = np.concatenate([real, fake])
        labels = np.zeros((2 * n, 1), dtype=samples.dtype)
        labels[:n] = 1.0 - self.label_smoothing
        logits = self.discriminator.forward(samples, training=True)
        d_loss = self.loss_fn(labels, logits)
        self.discriminator.backward(self.loss_fn.gradient(labels, logits))
        self.d_optimizer.step(self.discriminator.parameters(trainable_only=True))
        return {"d_loss": d_loss, "d_accuracy_real": float(np.mean(logits[:n] > 0)),
                "d_accuracy_fake": float(np.mean(logits[n:] < 0))}

    def generator_step(self, n: int) -> float:
        """One update of G on n fresh z with the non-saturating loss; D's weights are not changed."""
        fake = self.generator.forward(self.noise(n), training=True)
        logits = self.discriminator.forward(fake, training=True)
        ones = np.ones((n, 1), dtype=logits.dtype)
        g_loss = self.loss_fn(ones, logits)
        grad_fake = self.discriminator.backward(self.loss_fn.gradient(ones, logits))  # fills D's .grad, unused
        self.generator.backward(grad_fake)
        self.g_optimizer.step(self.generator.parameters(trainable_only=True))
        return g_loss

    def train_step(self, data: Any) -> dict[str, float]:
        """``d_steps`` discriminator steps on the real batch, then one generator step (module doc)."""
        real, _ = unpack_data(data)
        for _ in range(self.d_steps):
            logs = self.discriminator_step(real)
        return {"d_loss": logs["d_loss"], "g_loss": self.generator_step(len(real)),
                "d_accuracy_real": logs["d_accuracy_real"], "d_accuracy_fake": logs["d_accuracy_fake"]}

    def test_step(self, data: Any) -> dict[str, float]:
        """Both losses and D's accuracies on a batch, in inference mode, with z from a fixed generator."""
        real, _ = unpack_data(data)
        n = len(real)
        z = np.random.default_rng(n).standard_normal((n, self.latent_dim)).astype(self.dtype)
        logits_real = self.discriminator.forward(real, training=False)
        logits_fake = self.discriminator.forward(self.generator.forward(z, training=False), training=False)
        ones, zeros = np.ones_like(logits_real), np.zeros_like(logits_fake)
        real_loss = self.loss_fn(ones * (1.0 - self.label_smoothing), logits_real)
        d_loss = 0.5 * (real_loss + self.loss_fn(zeros, logits_fake))
        return {"d_loss": d_loss, "g_loss": self.loss_fn(ones, logits_fake),
                "d_accuracy_real": float(np.mean(logits_real > 0)),
                "d_accuracy_fake": float(np.mean(logits_fake < 0))}

    def sample(self, n: int, seed: int | None = None) -> Any:
        """G(z) for n draws z ~ N(0, I) from ``np.random.default_rng(seed)``."""
        z = np.random.default_rng(seed).standard_normal((int(n), self.latent_dim)).astype(self.dtype)
        return self.generator.predict(z)

    def get_config(self) -> dict[str, Any]:
        from ..layers import serialize_layer

        return {"name": self.name, "generator": serialize_layer(self.generator),
                "discriminator": serialize_layer(self.discriminator), "latent_dim": self.latent_dim,
                "label_smoothing": self.label_smoothing, "d_steps": self.d_steps, "seed": self.seed}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> GAN:
        from ..layers import deserialize_layer

        return cls(deserialize_layer(config["generator"]), deserialize_layer(config["discriminator"]),
                   latent_dim=config["latent_dim"], label_smoothing=config.get("label_smoothing", 0.0),
                   d_steps=config.get("d_steps", 1), seed=config.get("seed"), name=config.get("name"))
