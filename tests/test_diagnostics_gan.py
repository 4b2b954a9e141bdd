"""GAN diagnosis (issue 15): the mode-collapse warning fires on a collapsed generator and not on a healthy
one, by sample diversity and by the class histogram a classifier sees; the discriminator-wins rule."""

from __future__ import annotations

import numpy as np
import pytest

import glassnet as gn
from glassnet.diagnostics.gan import (
    REMEDIES,
    class_shares,
    diagnose_gan,
    diversity_drop,
    mean_pairwise_distance,
    sample_diversity,
)

L = gn.layers
CENTRES = 2.0 * np.stack([np.cos(np.arange(8) * np.pi / 4), np.sin(np.arange(8) * np.pi / 4)], axis=1)


def ring_mode(points: np.ndarray) -> np.ndarray:
    """The classifier of the ring: the index of the nearest of the 8 centres."""
    return np.argmin(np.linalg.norm(points[:, None, :] - CENTRES[None], axis=2), axis=1)


def generator_gan(spread: float, offset: tuple[float, float] = (0.0, 0.0)) -> gn.models.GAN:
    """A GAN whose generator is the affine map z -> spread * z + offset (weights set by hand)."""
    generator = gn.Sequential([L.Input(shape=(2,)), L.Dense(2)], name="generator")
    discriminator = gn.Sequential([L.Input(shape=(2,)), L.Dense(4, activation="tanh"), L.Dense(1)],
                                  name="discriminator")
    gan = gn.models.GAN(generator, discriminator, latent_dim=2, seed=0)
    dense = generator.layers[-1]
    dense.kernel.value = (spread * np.eye(2)).astype(dense.kernel.value.dtype)
    dense.bias.value = np.asarray(offset, dtype=dense.bias.value.dtype)
    return gan


def test_mean_pairwise_distance_is_the_mean_over_pairs(rng):
    x = rng.normal(size=(7, 3, 2))
    flat = x.reshape(7, -1)
    pairs = [np.linalg.norm(flat[i] - flat[j]) for i in range(7) for j in range(i + 1, 7)]
    assert mean_pairwise_distance(x) == pytest.approx(np.mean(pairs), rel=1e-9)
    assert mean_pairwise_distance(x[:1]) == 0.0
    big = rng.normal(size=(2000, 2))  # subsampled to 500 rows, so close to E||a - b|| = sqrt(pi) for N(0, I_2)
    assert mean_pairwise_distance(big) == pytest.approx(np.sqrt(np.pi), rel=0.05)


def test_mode_collapse_fires_on_a_collapsed_generator_and_not_on_a_healthy_one(rng):
    real = rng.normal(size=(2000, 2)).astype(np.float32)
    healthy = generator_gan(1.0).sample(2000, seed=1)
    collapsed = generator_gan(0.05, (0.5, -0.3)).sample(2000, seed=1)
    assert sample_diversity(healthy, real) == pytest.approx(1.0, abs=0.1)
    assert sample_diversity(collapsed, real) == pytest.approx(0.05, abs=0.02)
    assert diagnose_gan(healthy, real=real) == []
    [finding] = diagnose_gan(collapsed, real=real)
    assert finding.name == "mode collapse" and "sample diversity 0.05" in finding.evidence
    assert finding.remedies == REMEDIES["mode collapse"] and "label_smoothing" in finding.text


def test_the_class_histogram_judged_by_a_classifier_finds_missing_modes(rng):
    real = (CENTRES[rng.integers(0, 8, 4000)] + 0.02 * rng.normal(size=(4000, 2))).astype(np.float32)
    covering = real[rng.permutation(4000)[:2000]]  # a generator that draws like the data
    two_modes = real[ring_mode(real) % 4 == 0][:2000]  # two opposite modes: the diversity stays high
    assert sample_diversity(two_modes, real) > 0.5
    assert diagnose_gan(covering, real=real, classify=ring_mode, n_classes=8) == []
    np.testing.assert_allclose(class_shares(two_modes, ring_mode, 8)[[1, 2, 3, 5, 6, 7]], 0.0)
    [finding] = diagnose_gan(two_modes, real=real, classify=ring_mode, n_classes=8)
    assert "class(es) 1, 2, 3, 5, 6, 7 get less than 3.1%" in finding.evidence
    one_heavy = np.concatenate([real[ring_mode(real) == 0][:700], covering[:300]])  # class 0: > 3/8 of all
    [finding] = diagnose_gan(one_heavy, classify=ring_mode, n_classes=8)
    assert "class 0 gets" in finding.evidence


def test_a_classifier_giving_probabilities_is_read_by_argmax(rng):
    probabilities = np.eye(3)[rng.integers(0, 3, 300)] * 0.8 + 0.1
    assert class_shares(probabilities, lambda p: p, 3).sum() == pytest.approx(1.0)
    assert diagnose_gan(probabilities, classify=lambda p: p) == []  # n_classes from the output width
    assert diagnose_gan(np.tile(probabilities[:1], (300, 1)), classify=lambda p: p)[0].name == "mode collapse"


def test_a_diversity_that_falls_during_training_is_reported():
    assert diversity_drop([0.9, 1.0, 0.95, 0.98]) is None
    assert diversity_drop([0.8, 1.0, 0.6, 0.3, 0.2]) == 4
    assert diversity_drop([0.8, 1.0, 0.3, 0.9]) is None  # recovered
    [finding] = diagnose_gan(np.zeros((10, 2)), diversity_per_epoch=[0.8, 1.0, 0.6, 0.3, 0.2])
    assert "fell from its best 1.00 to 0.20 (below half of it from epoch 4 on)" in finding.evidence


def test_discriminator_wins_needs_rejected_fakes_and_a_rising_generator_loss():
    samples = np.zeros((4, 2))
    losing = {"d_accuracy_fake": [0.6, 0.9, 0.97, 0.99, 0.99, 1.0, 1.0, 1.0], "g_loss": [1, 2, 2, 3, 3, 4, 5, 6]}
    [finding] = diagnose_gan(samples, history=losing)
    assert finding.name == "discriminator wins" and "rejects 100.0%" in finding.evidence
    balanced = {"d_accuracy_fake": [0.6, 0.7, 0.6, 0.65, 0.6, 0.62, 0.6, 0.61], "g_loss": [1, 1, 1, 1, 1, 1, 1, 1.1]}
    assert diagnose_gan(samples, history=balanced) == []
    recovering = {**losing, "g_loss": [6, 5, 4, 3, 3, 2, 2, 1]}
    assert diagnose_gan(samples, history=recovering) == []
