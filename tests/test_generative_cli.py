"""``[model] kind = "autoencoder" | "vae" | "gan"`` in glassnet train configs (issue 15): the shipped
digits-ae, digits-vae, ring-gan, mnist-vae and mnist-gan configs, their run folders and report sections."""

from __future__ import annotations

import copy
from pathlib import Path

import numpy as np
import pytest

import glassnet as gn
from glassnet.app import config, runs
from glassnet.app.generative_runs import GAN_OPTIMIZER

MNIST = Path(__file__).resolve().parents[2] / "shared" / "data" / "mnist.npz"


def shipped(name: str, **training) -> dict:
    raw = config.load(config.find(name))
    raw["training"] = {**raw.get("training", {}), **training}
    return raw


def plots(result: runs.RunResult) -> set[str]:
    return {p.name for p in (result.run_dir / "plots").iterdir()}


def test_digits_ae_trains_x_to_x_and_reports_reconstructions(tmp_path):
    run = runs.setup(shipped("digits-ae", epochs=3))
    assert isinstance(run.model, gn.models.Autoencoder) and run.kind == "autoencoder"
    assert run.model.encoder.output_shape == (8,) and run.model.output_shape == (64,)
    result = runs.train(run, out=tmp_path, verbose=0)
    assert {"reconstructions.png", "loss.png"} <= plots(result)
    assert "confusion_matrix.png" not in plots(result)  # the labels are not what it predicts
    expected = run.model.evaluate(run.data.x_test)["loss"]
    assert result.metrics["test"]["loss"] == pytest.approx(expected)
    bce = -np.mean(run.data.x_test * np.log(np.clip(run.model.predict(run.data.x_test), 1e-7, 1 - 1e-7))
                   + (1 - run.data.x_test) * np.log(np.clip(1 - run.model.predict(run.data.x_test), 1e-7, 1)))
    assert expected == pytest.approx(bce, rel=1e-4)  # the test loss is the reconstruction BCE of x itself
    report = (result.run_dir / "report.html").read_text()
    assert "Generative model" in report and 'data-file="plots/reconstructions.png"' in report
    loaded = gn.load_model(result.run_dir / "model.glassnet")
    np.testing.assert_array_equal(loaded.predict(run.data.x_test), run.model.predict(run.data.x_test))


def test_digits_vae_resolves_kl_weight_and_reports_the_latent_space(tmp_path):
    run = runs.setup(shipped("digits-vae", epochs=2))
    assert isinstance(run.model, gn.models.VAE)
    assert run.config["model"]["kl_weight"] == pytest.approx(1 / 64) and run.model.kl_weight == pytest.approx(1 / 64)
    assert run.model.encoder.output_shape == [(2,), (2,)]
    result = runs.train(run, out=tmp_path, verbose=0)
    assert {"reconstructions.png", "latent_space.png", "latent_grid.png", "samples.png", "sample_grids.png",
            "kl_loss.png"} <= plots(result)
    assert set(result.history) >= {"loss", "reconstruction_loss", "kl_loss"}
    rerun = runs.setup(config.loads((result.run_dir / "config.toml").read_text()))  # the saved config repeats it
    for a, b in zip(rerun.model.get_weights(), runs.setup(shipped("digits-vae", epochs=2)).model.get_weights()):
        np.testing.assert_array_equal(a, b)


def _small_ring(**training) -> dict:
    gn.backend.clear_session()  # the layer names of a fresh process, so a backup fits the next setup
    raw = shipped("ring-gan", **training)
    raw["data"]["n_samples"] = 1024
    return raw


def test_ring_gan_has_two_optimizers_curves_density_and_the_diagnosis(tmp_path):
    raw = _small_ring(epochs=3)
    raw["optimizer"]["discriminator"] = {"name": "sgd", "learning_rate": 0.01}
    del raw["optimizer"]["generator"]
    run = runs.setup(raw)
    assert isinstance(run.model, gn.models.GAN)
    assert isinstance(run.model.d_optimizer, gn.optimizers.SGD) and isinstance(run.model.g_optimizer,
                                                                               gn.optimizers.Adam)
    assert run.config["optimizer"]["generator"] == GAN_OPTIMIZER and run.config["loss"] == {}
    result = runs.train(run, out=tmp_path, verbose=0)
    assert {"gan_losses.png", "sample_grids.png", "sample_density.png"} <= plots(result)
    assert set(result.metrics["test"]) == {"d_loss", "g_loss", "d_accuracy_real", "d_accuracy_fake"}
    report = (result.run_dir / "report.html").read_text()
    assert "Sample diversity" in report and "nearest class mean" in report
    assert "mode collapse" in report  # 3 epochs on 1,024 points: far from all 8 modes
    grids = run.callbacks[0]
    assert [epoch for epoch, _ in grids.grids] == [1, 2, 3] and len(grids.diversity) == 3
    loaded = gn.load_model(result.run_dir / "model.glassnet")
    assert isinstance(loaded.d_optimizer, gn.optimizers.SGD)
    np.testing.assert_array_equal(loaded.sample(5, seed=3), run.model.sample(5, seed=3))


def test_an_interrupted_gan_run_resumes_to_the_same_weights(tmp_path):
    straight_run = runs.setup(_small_ring(epochs=3))
    straight = runs.train(straight_run, out=tmp_path / "straight", verbose=0)
    first = runs.setup(_small_ring(epochs=2))
    cut = runs.train(first, out=tmp_path / "cut", verbose=0)
    backup = cut.run_dir / "backup"
    assert not backup.exists()  # a finished run drops its backup; make one as an interrupted run leaves it
    again = runs.setup(_small_ring(epochs=2))
    again.model.fit(again.data.x_train, epochs=2, batch_size=256, verbose=0, seed=0, shuffle=True,
                    callbacks=[*again.callbacks, gn.callbacks.BackupAndRestore(backup, delete_checkpoint=False)])
    run = runs.setup(_small_ring(epochs=3))
    resumed = runs.train(run, verbose=0, resume=cut.run_dir)
    a = gn.load_model(straight.run_dir / "model.glassnet").get_weights()
    b = gn.load_model(resumed.run_dir / "model.glassnet").get_weights()
    for left, right in zip(a, b):
        np.testing.assert_array_equal(left, right)
    # the per-epoch samples of the epochs before the resume come back from the backup, as straight's
    grids, straight_grids = run.callbacks[0], straight_run.callbacks[0]
    assert [epoch for epoch, _ in grids.grids] == [1, 2, 3]
    for (_, left), (_, right) in zip(grids.grids, straight_grids.grids):
        np.testing.assert_array_equal(left, right)
    assert grids.diversity == straight_grids.diversity


@pytest.mark.parametrize(("change", "message"), [
    (lambda raw: raw["model"].update(kind="diffusion"), "model.kind: unknown kind 'diffusion'"),
    (lambda raw: raw["model"].pop("discriminator"), r"missing \[\[model.discriminator\]\]"),
    (lambda raw: raw.update(loss={"name": "mse"}), "a GAN's loss is fixed"),
    (lambda raw: raw["model"]["generator"][-1].update(units=3), r"model.generator: .*\(3,\).*\(2,\)"),
    (lambda raw: raw["model"]["discriminator"][-1].update(activation="sigmoid"), "model.discriminator: .*logits"),
    (lambda raw: raw["optimizer"]["generator"].update(name="adamm"), "optimizer.generator.name: unknown optimizer"),
    (lambda raw: raw["optimizer"].update(name="adam"), "optimizer .GAN: one table per network.: unknown key"),
    (lambda raw: raw["model"].update(label_smoothing=1.5), r"model.label_smoothing must be a number in \[0.0, 1.0\)"),
    (lambda raw: raw["model"]["generator"][0].update(type="Dence"), r"model.generator\[0\].type: unknown layer"),
    (lambda raw: raw["training"].update(metrics=["accuracy"]), "training.metrics: a GAN logs"),
])
def test_bad_gan_configs_name_the_table_and_a_hint(change, message):
    raw = _small_ring()
    change(raw)
    with pytest.raises(gn.ConfigError, match=message):
        runs.setup(raw)


def test_bad_autoencoder_configs_are_refused():
    raw = shipped("digits-ae")
    raw["model"]["decoder"][-1]["units"] = 10
    with pytest.raises(gn.ConfigError, match=r"model.decoder: the last layer gives samples of shape \(10,\)"):
        runs.setup(raw)
    raw = shipped("digits-ae")
    raw["model"]["latent_dim"] = 3
    with pytest.raises(gn.ConfigError, match="unknown key 'latent_dim'"):
        runs.setup(raw)


def test_a_conv_encoder_gets_images_and_gaussian_noise_makes_it_denoising(tmp_path):
    raw = copy.deepcopy(shipped("digits-ae", epochs=1))
    raw["model"]["encoder"] = [{"type": "GaussianNoise", "stddev": 0.2},
                               {"type": "Conv2D", "filters": 4, "kernel_size": 3, "padding": "same",
                                "activation": "relu"}, {"type": "MaxPooling2D", "pool_size": 2}]
    raw["model"]["decoder"] = [{"type": "Conv2DTranspose", "filters": 4, "kernel_size": 3, "strides": 2,
                                "padding": "same", "activation": "relu"},
                               {"type": "Conv2D", "filters": 1, "kernel_size": 3, "padding": "same",
                                "activation": "sigmoid"}]
    raw["data"].pop("shape", None)
    run = runs.setup(raw)
    assert run.data.input_shape == (8, 8, 1) and run.model.output_shape == (8, 8, 1)
    assert "reconstructions.png" in plots(runs.train(run, out=tmp_path, verbose=0))


@pytest.mark.skipif(not MNIST.exists(), reason="needs ../shared/data/mnist.npz")
@pytest.mark.parametrize("name", ["mnist-vae", "mnist-gan"])
def test_mnist_configs_read_the_npz_from_the_current_folder(name, tmp_path, monkeypatch):
    monkeypatch.chdir(MNIST.parent)
    raw = shipped(name, epochs=1)
    assert raw["data"]["name"] == "npz"
    assert Path(raw["data"]["path"]).resolve() == MNIST.resolve()  # the cwd may be a symlink
    raw["data"]["limit"] = 256
    run = runs.setup(raw)
    assert run.kind == name.split("-")[1]
    assert run.model.output_shape == run.data.input_shape


def test_glassnet_evaluate_repeats_a_generative_runs_test_metrics(tmp_path, capsys):
    import json

    from glassnet.app import cli

    for raw in (shipped("digits-ae", epochs=1), _small_ring(epochs=1)):
        result = runs.train(runs.setup(raw), out=tmp_path, verbose=0)
        capsys.readouterr()
        assert cli.main(["evaluate", str(result.run_dir), "--json"]) == 0
        again = json.loads(capsys.readouterr().out)
        assert again == pytest.approx(result.metrics["test"])
