"""GAN files keep both optimizers and their state (issue 15): load_model and BackupAndRestore resume
training exactly."""

from __future__ import annotations

import copy
import zipfile

import numpy as np
import pytest

import glassnet as gn
from glassnet.errors import ModelFileError

L = gn.layers


def _gan(seed: int = 0) -> gn.models.GAN:
    gn.backend.clear_session()  # the same layer names each time, as in a fresh process
    gn.set_seed(seed)
    generator = gn.Sequential([L.Input(shape=(3,)), L.Dense(8, activation="relu"), L.Dense(2)], name="generator")
    discriminator = gn.Sequential([L.Input(shape=(2,)), L.Dense(8, activation="tanh"), L.Dense(1)],
                                  name="discriminator")
    gan = gn.models.GAN(generator, discriminator, latent_dim=3, label_smoothing=0.1, seed=seed)
    gan.compile(d_optimizer=gn.optimizers.Adam(1e-2, beta_1=0.5), g_optimizer=gn.optimizers.RMSprop(3e-3))
    return gan


@pytest.fixture
def real(rng):
    return rng.normal(size=(40, 2)).astype(np.float32)


def test_gan_file_holds_both_optimizers_and_their_state(real, tmp_path):
    gan = _gan()
    gan.fit(real, epochs=2, batch_size=8, verbose=0, seed=0)
    gan.save(tmp_path / "gan.glassnet", include_optimizer=True)
    loaded = gn.load_model(tmp_path / "gan.glassnet")
    assert isinstance(loaded.d_optimizer, gn.optimizers.Adam) and isinstance(loaded.g_optimizer, gn.optimizers.RMSprop)
    assert loaded.d_optimizer.beta_1 == 0.5 and loaded.g_optimizer.learning_rate == pytest.approx(3e-3)
    assert loaded.optimizer is loaded.g_optimizer
    for key in ("d_optimizer", "g_optimizer"):
        before, after = getattr(gan, key).get_state(), getattr(loaded, key).get_state()
        assert set(before) == set(after) and int(after["iterations"]) == 10
        for name in before:
            np.testing.assert_array_equal(before[name], after[name])
    with zipfile.ZipFile(tmp_path / "gan.glassnet") as archive:
        assert "optimizer.npz" in archive.namelist()


def test_loaded_gan_continues_exactly_like_the_original(real, tmp_path):
    gan = _gan()
    gan.fit(real, epochs=1, batch_size=8, verbose=0, seed=0)
    gan.save(tmp_path / "gan.glassnet", include_optimizer=True)
    loaded = gn.load_model(tmp_path / "gan.glassnet")
    loaded.rng = copy.deepcopy(gan.rng)
    for _ in range(4):  # Adam's and RMSprop's moments decide these steps: fresh optimizers would differ
        assert gan.train_step(real[:8]) == loaded.train_step(real[:8])
    for a, b in zip(gan.get_weights(), loaded.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_without_optimizer_state_the_continuation_differs(real, tmp_path):
    """The control for the test above: the file without the state resumes with fresh moments."""
    gan = _gan()
    gan.fit(real, epochs=1, batch_size=8, verbose=0, seed=0)
    gan.save(tmp_path / "gan.glassnet")
    loaded = gn.load_model(tmp_path / "gan.glassnet")
    assert loaded.g_optimizer.iterations == 0
    loaded.rng = copy.deepcopy(gan.rng)
    gan.train_step(real[:8])
    loaded.train_step(real[:8])
    assert any(not np.array_equal(a, b) for a, b in zip(gan.get_weights(), loaded.get_weights()))


def test_backup_and_restore_resumes_a_gan_run_exactly(real, tmp_path):
    straight = _gan()
    history = straight.fit(real, epochs=3, batch_size=8, verbose=0, seed=0)
    first = _gan()
    first.fit(real, epochs=2, batch_size=8, verbose=0, seed=0,
              callbacks=[gn.callbacks.BackupAndRestore(tmp_path, delete_checkpoint=False)])
    resumed = _gan()  # a fresh process: new weights and optimizers, the backup folder only
    resumed_history = resumed.fit(real, epochs=3, batch_size=8, verbose=0, seed=0,
                                  callbacks=[gn.callbacks.BackupAndRestore(tmp_path)])
    for a, b in zip(straight.get_weights(), resumed.get_weights()):
        np.testing.assert_array_equal(a, b)
    assert resumed.d_optimizer.iterations == straight.d_optimizer.iterations == 15
    assert resumed_history.history["g_loss"] == history.history["g_loss"]


def test_a_state_entry_of_no_optimizer_is_refused(real, tmp_path):
    gan = _gan()
    gan.fit(real, epochs=1, batch_size=8, verbose=0, seed=0)
    path = tmp_path / "gan.glassnet"
    gan.save(path, include_optimizer=True)
    with zipfile.ZipFile(path) as archive:
        members = {name: archive.read(name) for name in archive.namelist()}
    members["config.json"] = members["config.json"].replace(b'"d_optimizer/iterations"', b'"x_optimizer/iterations"')
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    with pytest.raises(ModelFileError, match="x_optimizer/iterations"):
        gn.load_model(path)
