"""Generative models and custom training steps: Sampling and its KL term, add_loss, train_step(data),
the low-level API (public backward), Autoencoder / VAE / GAN, GaussianNoise and add_noise."""

from __future__ import annotations

import copy

import numpy as np
import pytest

import glassnet as gn
from glassnet.diagnostics import gradient_check
from glassnet.errors import ConfigError
from glassnet.layers.sampling import kl_divergence
from glassnet.models import unpack_data

L = gn.layers


# -- Sampling and the KL term ---------------------------------------------------------------------
def test_sampling_is_the_reparameterization_with_the_layer_noise(rng):
    mean, log_var = rng.normal(size=(5, 3)), rng.normal(size=(5, 3))
    layer = L.Sampling(seed=7)
    z = layer.forward([mean, log_var], training=True)
    eps = np.random.default_rng(7).standard_normal((5, 3))
    np.testing.assert_allclose(z, mean + np.exp(log_var / 2) * eps, rtol=1e-12)
    assert layer.forward([mean, log_var], training=False) is mean  # inference: z_mean
    sampled = L.Sampling(seed=7, sample=True).forward([mean, log_var])
    np.testing.assert_allclose(sampled, z, rtol=1e-12)  # sample=True: drawn in inference too


def test_kl_term_matches_the_formula_and_is_weighted(rng):
    mean, log_var = rng.normal(size=(4, 2, 3)), rng.normal(size=(4, 2, 3))
    expected = np.mean(-0.5 * np.sum(1 + log_var - mean**2 - np.exp(log_var), axis=-1))  # over 4 x 2 rows
    assert kl_divergence(mean, log_var) == pytest.approx(expected, rel=1e-12)
    layer = L.Sampling(kl_weight=0.3)
    layer.forward([mean, log_var], training=True)
    assert layer.added_losses() == {"kl_loss": pytest.approx(0.3 * expected, rel=1e-12)}
    layer.forward([mean, log_var], training=False)
    assert layer.added_losses() == {}
    assert kl_divergence(np.zeros((2, 3)), np.zeros((2, 3))) == 0.0  # q = prior


def test_sampling_gradient_includes_the_kl_gradient(rng):
    """dL/dmu = g + w mu / N and dL/ds = g eps e^(s/2) / 2 + w (e^s - 1) / (2N), written out."""
    mean, log_var, g = rng.normal(size=(4, 3)), rng.normal(size=(4, 3)), rng.normal(size=(4, 3))
    layer = L.Sampling(kl_weight=2.0, seed=3)
    layer.forward([mean, log_var], training=True)
    grad_mean, grad_log_var = layer.backward(g)
    eps = np.random.default_rng(3).standard_normal((4, 3))
    np.testing.assert_allclose(grad_mean, g + 2.0 * mean / 4, rtol=1e-12)
    np.testing.assert_allclose(grad_log_var, g * eps * np.exp(log_var / 2) / 2 + 2.0 * (np.exp(log_var) - 1) / 8,
                               rtol=1e-12)


def test_sampling_keeps_float32(rng):
    mean, log_var = (rng.normal(size=(4, 3)).astype(np.float32) for _ in range(2))
    layer = L.Sampling(seed=0)
    z = layer.forward([mean, log_var], training=True)
    grads = layer.backward(np.ones_like(z))
    assert z.dtype == np.float32 and all(g.dtype == np.float32 for g in grads)


def test_sampling_refuses_bad_arguments():
    with pytest.raises(ConfigError, match="kl_weight"):
        L.Sampling(kl_weight=-1)
    with pytest.raises(gn.ShapeError, match="z_mean, z_log_var"):
        L.Sampling().forward([np.zeros((2, 3)), np.zeros((2, 4))])


def _vae(latent: int = 2, features: int = 6, kl_weight: float = 1.0, seed: int = 0) -> gn.models.VAE:
    inputs = L.Input(shape=(features,))
    hidden = L.Dense(5, activation="tanh")(inputs)
    encoder = gn.Model(inputs=inputs, outputs=[L.Dense(latent, name="z_mean")(hidden),
                                               L.Dense(latent, name="z_log_var")(hidden)], name="encoder")
    decoder = gn.Sequential([L.Input(shape=(latent,)), L.Dense(5, activation="tanh"),
                             L.Dense(features, activation="sigmoid")], name="decoder")
    return gn.models.VAE(encoder, decoder, kl_weight=kl_weight, seed=seed)


def test_added_loss_is_in_the_objective_and_in_history(rng):
    gn.set_seed(0)
    vae = _vae(kl_weight=0.5)
    vae.compile(optimizer="adam", loss="mse")
    x = rng.random(size=(8, 6))
    total = vae.compute_loss_and_gradients(x, x)
    kl = vae.added_losses()["kl_loss"]
    assert kl > 0
    assert total == pytest.approx(vae._last_output_loss + kl, rel=1e-12)
    history = vae.fit(x, epochs=2, batch_size=4, verbose=0, seed=0)
    assert set(history.history) >= {"loss", "reconstruction_loss", "kl_loss"}
    for loss, rec, kl in zip(history.history["loss"], history.history["reconstruction_loss"],
                             history.history["kl_loss"]):
        assert loss == pytest.approx(rec + kl, rel=1e-6)


def test_vae_total_loss_gradient_end_to_end_in_float64(rng, float64):
    """Reconstruction (fused sigmoid + BCE) plus the KL term, noise fixed by reseeding before every pass."""
    gn.set_seed(2)
    vae = _vae(kl_weight=0.7)
    vae.compile(optimizer="sgd", loss="binary_crossentropy")
    x = rng.random(size=(5, 6))
    report = gradient_check(vae, x, x, seed=3)
    assert report.passed, report
    assert len(report.errors) == len(vae.parameters(trainable_only=True))


def test_vae_gradient_check_fails_without_the_kl_gradient(rng, float64, monkeypatch):
    """The check can fail: a Sampling backward that forgets dKL/d(inputs) is caught."""
    gn.set_seed(2)
    vae = _vae(kl_weight=0.7)
    vae.compile(optimizer="sgd", loss="binary_crossentropy")
    x = rng.random(size=(5, 6))
    monkeypatch.setattr(L.Sampling, "backward", lambda self, g: [g.copy(), g * self.cache["scaled"] * 0.5])
    assert not gradient_check(vae, x, x, seed=3).passed


# -- custom train steps ---------------------------------------------------------------------------
@gn.register_layer
class _CountingModel(gn.Sequential):
    """A custom step with the low-level API; also returns the batch size, to check the weighting."""

    def train_step(self, data):
        x, y = unpack_data(data)
        y_pred = self.forward(x, training=True)
        loss = self.loss(y, y_pred)
        grad_x = self.backward(self.loss.gradient(y, y_pred))
        assert grad_x is not None and grad_x.shape == x.shape  # public backward inside fit: dL/dx
        self.optimizer.step(self.parameters(trainable_only=True))
        return {"loss": loss, "batch": float(len(x))}


def _counting_model() -> _CountingModel:
    gn.set_seed(0)
    return _CountingModel([L.Input(shape=(3,)), L.Dense(4, activation="tanh"), L.Dense(1)])


def test_fit_averages_every_returned_key_by_batch_size(rng):
    model = _counting_model()
    model.compile(optimizer="sgd", loss="mse")
    x, y = rng.normal(size=(10, 3)), rng.normal(size=(10, 1))
    history = model.fit(x, y, epochs=1, batch_size=4, verbose=0)  # batches of 4, 4, 2
    assert history.history["batch"] == [pytest.approx((16 + 16 + 4) / 10)]


def test_subclassed_model_fits_with_early_stopping_and_checkpoint(rng, tmp_path):
    model = _counting_model()
    model.compile(optimizer=gn.optimizers.SGD(0.05), loss="mse")
    x, y = rng.normal(size=(40, 3)), rng.normal(size=(40, 1))
    stop = gn.callbacks.EarlyStopping(monitor="val_loss", patience=1)
    path = tmp_path / "best.glassnet"
    checkpoint = gn.callbacks.ModelCheckpoint(path, monitor="val_loss", save_best_only=True)
    history = model.fit(x, y, epochs=60, batch_size=8, validation_split=0.25, callbacks=[stop, checkpoint],
                        verbose=0, seed=0)
    epochs = len(history.history["loss"])
    assert 1 < epochs < 60 and stop.stopped_epoch == epochs - 1
    assert "val_loss" in history.history
    loaded = gn.load_model(path)
    assert type(loaded) is _CountingModel
    assert checkpoint.best == pytest.approx(min(history.history["val_loss"]))


def test_seeded_fit_of_a_custom_step_is_reproducible(rng):
    x, y = rng.normal(size=(20, 3)), rng.normal(size=(20, 1))
    runs = []
    for _ in range(2):
        model = _counting_model()
        model.compile(optimizer="adam", loss="mse")
        runs.append((model.fit(x, y, epochs=3, batch_size=6, verbose=0, seed=5).history, model.get_weights()))
    assert runs[0][0] == runs[1][0]
    for a, b in zip(runs[0][1], runs[1][1]):
        np.testing.assert_array_equal(a, b)


def test_public_backward_returns_the_input_gradient_outside_fit(rng):
    model = gn.Sequential([L.Input(shape=(3,)), L.Dense(2)])
    x, g = rng.normal(size=(4, 3)).astype(np.float32), rng.normal(size=(4, 2)).astype(np.float32)
    model.forward(x, training=True)
    model.require_input_grad(False)  # as fit sets it
    np.testing.assert_allclose(model.backward(g), g @ model.layers[0].kernel.value.T, rtol=1e-6)
    assert model.input_grad_required is False and model.layers[0].input_grad_required is False  # restored


def test_compile_options_are_kept_and_checked():
    model = _counting_model()
    model.compile(optimizer="sgd", loss="mse", teacher_optimizer="adam", temperature=2.0)
    assert isinstance(model.teacher_optimizer, gn.optimizers.Adam) and model.temperature == 2.0
    assert set(model.compile_options) == {"teacher_optimizer", "temperature"}
    model.compile(optimizer="sgd", loss="mse", temperature=3.0)  # recompiling replaces the options
    assert not hasattr(model, "teacher_optimizer") and model.temperature == 3.0
    with pytest.raises(ConfigError, match="replace attributes"):
        model.compile(optimizer="sgd", loss="mse", layers=1)
    plain = gn.Sequential([L.Input(shape=(3,)), L.Dense(1)])
    with pytest.raises(ConfigError, match="override train_step"):
        plain.compile(optimizer="sgd", loss="mse", d_optimizer="adam")


def test_fit_without_targets_needs_a_custom_step(rng):
    model = gn.Sequential([L.Input(shape=(3,)), L.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    with pytest.raises(ConfigError, match="needs targets"):
        model.fit(rng.normal(size=(4, 3)), verbose=0)


def test_unpack_data():
    x, y = np.zeros((2, 1)), np.ones((2, 1))
    assert unpack_data((x, y)) == (x, y)
    assert unpack_data((x,)) == (x, None)
    assert unpack_data(x) == (x, None)
    assert unpack_data([x, y]) == ([x, y], None)  # a list is several inputs, not (x, y)
    with pytest.raises(ConfigError, match="tuple of 3"):
        unpack_data((x, y, y))


# -- Autoencoder -----------------------------------------------------------------------------------
def _digits() -> np.ndarray:
    from sklearn.datasets import load_digits

    return (load_digits().data / 16.0).astype(np.float64)


@pytest.mark.slow
def test_linear_autoencoder_reaches_the_pca_error(float64):
    """A linear autoencoder with MSE learns the principal subspace: the rank-k PCA error, within 2%."""
    x = _digits()
    k = 6
    centred = x - x.mean(axis=0)
    _, s, _ = np.linalg.svd(centred, full_matrices=False)
    pca_mse = float(np.sum(s[k:] ** 2) / x.size)
    gn.set_seed(0)
    encoder = gn.Sequential([L.Input(shape=(64,)), L.Dense(k)], name="encoder")
    decoder = gn.Sequential([L.Input(shape=(k,)), L.Dense(64)], name="decoder")
    model = gn.models.Autoencoder(encoder, decoder)
    model.compile(optimizer=gn.optimizers.Adam(gn.schedules.ExponentialDecay(0.01, 1000, 0.5)), loss="mse")
    model.fit(x, epochs=150, batch_size=64, verbose=0, seed=0)
    mse = float(np.mean((model.reconstruct(x) - x) ** 2))
    assert pca_mse <= mse * (1 + 1e-9)  # nothing linear of rank k beats PCA
    assert mse <= 1.02 * pca_mse, (mse, pca_mse)


def test_autoencoder_fits_x_to_x_and_denoises(rng):
    gn.set_seed(1)
    encoder = gn.Sequential([L.Input(shape=(6,)), L.Dense(3, activation="relu")], name="encoder")
    decoder = gn.Sequential([L.Input(shape=(3,)), L.Dense(6)], name="decoder")
    model = gn.models.Autoencoder(encoder, decoder)
    model.compile(optimizer="adam", loss="mse")
    x = rng.normal(size=(30, 6)).astype(np.float32)
    by_default = copy.deepcopy(model)
    history = model.fit(x, epochs=2, batch_size=10, verbose=0, seed=0, shuffle=False)
    by_default.fit(x, x, epochs=2, batch_size=10, verbose=0, seed=0, shuffle=False)
    for a, b in zip(model.get_weights(), by_default.get_weights()):
        np.testing.assert_array_equal(a, b)  # fit(x) is fit(x, x)
    assert model.evaluate(x)["loss"] == pytest.approx(model.evaluate(x, x)["loss"], rel=1e-6)
    assert model.encode(x).shape == (30, 3) and model.decode(model.encode(x)).shape == (30, 6)
    np.testing.assert_array_equal(model.reconstruct(x), model.predict(x))
    noisy = gn.preprocessing.add_noise(x, amount=0.3, seed=0, clip=None)
    denoising = model.fit(noisy, x, epochs=1, batch_size=10, verbose=0)
    assert np.isfinite(denoising.history["loss"][0]) and len(history.history["loss"]) == 2


# -- GAN --------------------------------------------------------------------------------------------
def _gan(seed: int = 0, **kwargs) -> gn.models.GAN:
    gn.set_seed(seed)
    generator = gn.Sequential([L.Input(shape=(3,)), L.Dense(8, activation="relu"), L.Dense(2)], name="generator")
    discriminator = gn.Sequential([L.Input(shape=(2,)), L.Dense(8, activation="tanh"), L.Dense(1)],
                                  name="discriminator")
    gan = gn.models.GAN(generator, discriminator, latent_dim=3, seed=seed, **kwargs)
    gan.compile(d_optimizer=gn.optimizers.Adam(1e-2, beta_1=0.5), g_optimizer=gn.optimizers.SGD(0.1, momentum=0.5))
    return gan


def _hand_step(gan: gn.models.GAN, real: np.ndarray, rng: np.random.Generator, smoothing: float, d_steps: int):
    """One GAN step written with the public low-level API only."""
    G, D = gan.generator, gan.discriminator
    bce = gn.losses.BinaryCrossentropy(from_logits=True)
    n = len(real)
    for _ in range(d_steps):
        fake = G.forward(rng.standard_normal((n, 3), dtype=np.float32), training=True)
        labels = np.concatenate([np.full((n, 1), 1 - smoothing), np.zeros((n, 1))]).astype(np.float32)
        logits = D.forward(np.concatenate([real, fake]), training=True)
        D.backward(bce.gradient(labels, logits))
        gan.d_optimizer.step(D.parameters(trainable_only=True))
    logits = D.forward(G.forward(rng.standard_normal((n, 3), dtype=np.float32), training=True), training=True)
    ones = np.ones((n, 1), dtype=np.float32)
    G.backward(D.backward(bce.gradient(ones, logits)))
    gan.g_optimizer.step(G.parameters(trainable_only=True))
    return bce(ones, logits)


@pytest.mark.parametrize(("smoothing", "d_steps"), [(0.0, 1), (0.1, 2)])
def test_gan_step_equals_the_low_level_step_bit_for_bit(rng, smoothing, d_steps):
    real = rng.normal(size=(6, 2)).astype(np.float32)
    by_model, by_hand = _gan(label_smoothing=smoothing, d_steps=d_steps), _gan()
    noise = copy.deepcopy(by_model.rng)
    for _ in range(3):
        logs = by_model.train_step(real)
        g_loss = _hand_step(by_hand, real, noise, smoothing, d_steps)
        assert logs["g_loss"] == g_loss
    for a, b in zip(by_model.get_weights(), by_hand.get_weights()):
        np.testing.assert_array_equal(a, b)
    assert not np.array_equal(by_model.get_weights()[0], _gan().get_weights()[0])  # it trained


def test_generator_step_leaves_the_discriminator_alone_and_vice_versa(rng):
    gan = _gan()
    real = rng.normal(size=(6, 2)).astype(np.float32)
    d_before, g_before = gan.discriminator.get_weights(), gan.generator.get_weights()
    gan.generator_step(6)
    for a, b in zip(d_before, gan.discriminator.get_weights()):
        np.testing.assert_array_equal(a, b)
    assert any(not np.array_equal(a, b) for a, b in zip(g_before, gan.generator.get_weights()))
    g_after = gan.generator.get_weights()
    gan.discriminator_step(real)
    for a, b in zip(g_after, gan.generator.get_weights()):
        np.testing.assert_array_equal(a, b)
    assert any(not np.array_equal(a, b) for a, b in zip(d_before, gan.discriminator.get_weights()))


def test_gan_fit_logs_both_losses_and_samples_reproducibly(rng):
    gan = _gan()
    history = gan.fit(rng.normal(size=(40, 2)), epochs=2, batch_size=8, verbose=0, seed=0,
                      validation_data=(rng.normal(size=(16, 2)),))
    assert set(history.history) == {"d_loss", "g_loss", "d_accuracy_real", "d_accuracy_fake", "val_d_loss",
                                    "val_g_loss", "val_d_accuracy_real", "val_d_accuracy_fake",
                                    "learning_rate"}  # the generator's
    np.testing.assert_array_equal(gan.sample(5, seed=1), gan.sample(5, seed=1))
    assert gan.sample(5, seed=1).shape == (5, 2)


def test_gan_refuses_a_discriminator_with_a_sigmoid():
    generator = gn.Sequential([L.Input(shape=(3,)), L.Dense(2)])
    discriminator = gn.Sequential([L.Input(shape=(2,)), L.Dense(1, activation="sigmoid")])
    with pytest.raises(ConfigError, match="logits"):
        gn.models.GAN(generator, discriminator, latent_dim=3)
    with pytest.raises(ConfigError, match="latent_dim"):
        gn.models.GAN(generator, discriminator, latent_dim=0)


# -- save / load -------------------------------------------------------------------------------------
def test_save_and_load_each_generative_model(rng, tmp_path):
    x = rng.random(size=(12, 6)).astype(np.float32)
    encoder = gn.Sequential([L.Input(shape=(6,)), L.Dense(3, activation="relu")], name="encoder")
    decoder = gn.Sequential([L.Input(shape=(3,)), L.Dense(6, activation="sigmoid")], name="decoder")
    autoencoder = gn.models.Autoencoder(encoder, decoder)
    vae = _vae(seed=4)
    gan = _gan()
    for model in (autoencoder, vae):
        model.compile(optimizer="adam", loss="binary_crossentropy")
        model.fit(x, epochs=1, batch_size=4, verbose=0, seed=0)
    gan.fit(x[:, :2], epochs=1, batch_size=4, verbose=0, seed=0)
    for model, probe in ((autoencoder, x), (vae, x), (gan, rng.normal(size=(4, 3)).astype(np.float32))):
        path = tmp_path / f"{model.name}.glassnet"
        model.save(path, include_optimizer=True)
        loaded = gn.load_model(path)
        assert type(loaded) is type(model)
        for a, b in zip(model.get_weights(), loaded.get_weights()):
            np.testing.assert_array_equal(a, b)
        np.testing.assert_array_equal(loaded.predict(probe), model.predict(probe))
        assert loaded.get_config() == model.get_config()
    assert gn.load_model(tmp_path / f"{vae.name}.glassnet").loss.name == "binary_crossentropy"
    np.testing.assert_array_equal(gn.load_model(tmp_path / f"{vae.name}.glassnet").sample(3, seed=2),
                                  vae.sample(3, seed=2))


# -- noise -------------------------------------------------------------------------------------------
def test_gaussian_noise_layer_in_training_only(rng):
    x = rng.normal(size=(2000, 5)).astype(np.float32)
    layer = L.GaussianNoise(0.5, seed=3)
    y = layer.forward(x, training=True)
    assert y.dtype == np.float32
    np.testing.assert_allclose(y - x, 0.5 * np.random.default_rng(3).standard_normal((2000, 5), dtype=np.float32),
                               rtol=1e-5, atol=1e-6)
    assert layer.forward(x, training=False) is x
    np.testing.assert_array_equal(layer.backward(x), x)
    with pytest.raises(ConfigError, match="stddev"):
        L.GaussianNoise(-0.1)


def test_add_noise_kinds_seed_and_clip(rng):
    x = rng.random(size=(400, 50)).astype(np.float32)
    a = gn.preprocessing.add_noise(x, "gaussian", 0.4, seed=1)
    np.testing.assert_array_equal(a, gn.preprocessing.add_noise(x, "gaussian", 0.4, seed=1))
    assert a.dtype == np.float32 and a.min() >= 0 and a.max() <= 1
    unclipped = gn.preprocessing.add_noise(x, "gaussian", 0.4, seed=1, clip=None)
    assert abs(float(np.std(unclipped - x)) - 0.4) < 0.01
    np.testing.assert_array_equal(a, np.clip(unclipped, 0, 1))
    masked = gn.preprocessing.add_noise(x, "masking", 0.25, seed=2)
    zeroed = masked == 0
    assert abs(float(zeroed.mean()) - 0.25) < 0.01
    np.testing.assert_array_equal(masked[~zeroed], x[~zeroed])
    assert not np.shares_memory(masked, x) and x.min() > 0  # the input is untouched
    with pytest.raises(ConfigError, match="unknown kind"):
        gn.preprocessing.add_noise(x, "salt")
    with pytest.raises(ConfigError, match=r"\[0, 1\]"):
        gn.preprocessing.add_noise(x, "masking", 1.5)
