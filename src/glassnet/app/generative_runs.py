"""``[model] kind = "autoencoder" | "vae" | "gan"``: generative models in ``glassnet train`` configs.

    [model]                          kind = "autoencoder"
    [[model.encoder]] ...            the layers from the data to the code (their own Input is added)
    [[model.decoder]] ...            the layers from the code back to the data's shape

    [model]                          kind = "vae", latent_dim = 2, kl_weight (default 1 / features)
    [[model.encoder]] ...            the body; two Dense(latent_dim) heads, z_mean and z_log_var, are added
    [[model.decoder]] ...            from z (latent_dim,) back to the data's shape

    [model]                          kind = "gan", latent_dim, label_smoothing (0), d_steps (1)
    [[model.generator]] ...          from z (latent_dim,) to the data's shape
    [[model.discriminator]] ...      from the data's shape to one logit (end with Dense(1), no activation)
    [optimizer.generator]            one optimizer per network (default Adam(2e-4, beta_1=0.5) each)
    [optimizer.discriminator]

An autoencoder or VAE takes ``[loss]`` (default binary cross-entropy, so end the decoder in a sigmoid)
and one ``[optimizer]`` (default Adam(1e-3)); a GAN's loss is fixed (the non-saturating BCE on logits),
so it takes no ``[loss]``. A denoising autoencoder starts its encoder with a ``GaussianNoise`` layer
(active in training only). Every model trains on the inputs alone (``fit(x)``); the labels are kept
for the report (the latent space coloured by class). The report sections are in
``glassnet.app.generative_report``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .. import backend, layers, models
from ..errors import ConfigError, GlassnetError
from .config import TRAINING_KEYS, check_keys, number, resolve_training
from .config_build import build_loss, build_optimizer, construct, lookup
from .config_data import PreparedData

KINDS = ("autoencoder", "vae", "gan")
PARTS = {"autoencoder": ("encoder", "decoder"), "vae": ("encoder", "decoder"), "gan": ("generator", "discriminator")}
KEYS = {
    "autoencoder": ("kind", "name", "encoder", "decoder"),
    "vae": ("kind", "name", "encoder", "decoder", "latent_dim", "kl_weight"),
    "gan": ("kind", "name", "generator", "discriminator", "latent_dim", "label_smoothing", "d_steps"),
}
DEFAULT_OPTIMIZER = {"name": "adam", "learning_rate": 0.001}
GAN_OPTIMIZER = {"name": "adam", "learning_rate": 0.0002, "beta_1": 0.5}
_NOT_CONFIGURABLE = ("Input", "Sequential", "Functional", "Autoencoder", "VAE", "GAN")


def generative_kind(config: dict[str, Any]) -> str | None:
    """``[model] kind`` when it names a generative model; None for the plain layer list."""
    kind = config.get("model", {}).get("kind")
    if kind in (None, "sequential"):
        return None
    if kind not in KINDS:
        valid = ", ".join(f'"{k}"' for k in ("sequential", *KINDS))
        raise ConfigError(f"model.kind: unknown kind {kind!r}; valid: {valid}")
    return str(kind)


def _layers(specs: Any, where: str) -> list[Any]:
    if not (isinstance(specs, list) and specs and all(isinstance(s, dict) for s in specs)):
        raise ConfigError(f'{where}: needs an array of layer tables, e.g. [[{where}]] type = "Dense", units = 32')
    built = []
    for i, spec in enumerate(specs):
        if "type" not in spec:
            raise ConfigError(f'{where}[{i}]: missing \'type\' (e.g. type = "Dense")')
        kwargs = {k: v for k, v in spec.items() if k != "type"}
        cls = lookup(layers.LAYERS, spec["type"], f"{where}[{i}].type", "layer type", skip=_NOT_CONFIGURABLE,
                     by_class=True)
        built.append(construct(cls, kwargs, f"{where}[{i}]"))
    return built


def _sequential(specs: Any, where: str, shape: tuple[int, ...], name: str) -> Any:
    try:
        return models.Sequential([layers.Input(shape=shape), *_layers(specs, where)], name=name)
    except ConfigError as exc:
        if str(exc).startswith(where):
            raise
        raise ConfigError(f"{where}: {exc}") from None
    except (GlassnetError, ValueError, TypeError) as exc:
        raise ConfigError(f"{where}: {exc}") from None


def _check_shape(model: Any, expected: tuple[int, ...], where: str, what: str) -> None:
    got = tuple(model.output_shape or ())
    if got != tuple(expected):
        raise ConfigError(f"{where}: the last layer gives samples of shape {got}, but {what} has shape {expected}; "
                          f"hint: end {where} with a layer giving {expected} (e.g. Dense({int(np.prod(expected))}) "
                          "for flat data)")


def _vae_encoder(specs: Any, shape: tuple[int, ...], latent: int) -> Any:
    inputs = layers.Input(shape=shape)
    hidden = inputs
    for layer in _layers(specs, "model.encoder"):
        hidden = layer(hidden)
    z_mean = layers.Dense(latent, name="z_mean")(hidden)
    z_log_var = layers.Dense(latent, name="z_log_var")(hidden)
    return models.Functional(inputs=inputs, outputs=[z_mean, z_log_var], name="encoder")


def resolve_model_table(table: dict[str, Any], data: PreparedData, name: str) -> dict[str, Any]:
    """The [model] table of a generative kind with its defaults written out and its keys checked."""
    kind = table["kind"]
    check_keys(table, KEYS[kind], f"model (kind = {kind!r})")
    resolved = {"name": name, **table}
    for part in PARTS[kind]:
        if part not in table:
            raise ConfigError(f'model (kind = {kind!r}): missing [[model.{part}]] (its layers, e.g. type = "Dense")')
    if kind in ("vae", "gan"):
        resolved.setdefault("latent_dim", 2 if kind == "vae" else 8)
        number(resolved, "latent_dim", "model", 1, integer=True)
    if kind == "vae":
        resolved.setdefault("kl_weight", 1.0 / float(np.prod(data.input_shape)))
        number(resolved, "kl_weight", "model", 0.0)
    if kind == "gan":
        resolved.setdefault("label_smoothing", 0.0)
        resolved.setdefault("d_steps", 1)
        number(resolved, "label_smoothing", "model", 0.0, 1.0)
        number(resolved, "d_steps", "model", 1, integer=True)
    return resolved


def build_generative(table: dict[str, Any], data: PreparedData, seed: int) -> Any:
    """The Autoencoder, VAE or GAN of a resolved [model] table, its weights drawn from ``seed``."""
    kind, shape = table["kind"], data.input_shape
    with backend.using_generator(np.random.default_rng(seed)):
        if kind == "gan":
            latent = int(table["latent_dim"])
            generator = _sequential(table["generator"], "model.generator", (latent,), "generator")
            _check_shape(generator, shape, "model.generator", "the data")
            discriminator = _sequential(table["discriminator"], "model.discriminator", shape, "discriminator")
            try:
                return models.GAN(generator, discriminator, latent_dim=latent, seed=seed, name=str(table["name"]),
                                  label_smoothing=table["label_smoothing"], d_steps=table["d_steps"])
            except ConfigError as exc:
                raise ConfigError(f"model.discriminator: {exc}") from None
        if kind == "vae":
            latent = int(table["latent_dim"])
            encoder = _vae_encoder(table["encoder"], shape, latent)
            decoder = _sequential(table["decoder"], "model.decoder", (latent,), "decoder")
            _check_shape(decoder, shape, "model.decoder", "the data")
            return models.VAE(encoder, decoder, kl_weight=float(table["kl_weight"]), seed=seed, name=str(table["name"]))
        encoder = _sequential(table["encoder"], "model.encoder", shape, "encoder")
        decoder = _sequential(table["decoder"], "model.decoder", tuple(encoder.output_shape), "decoder")
        _check_shape(decoder, shape, "model.decoder", "the data")
        return models.Autoencoder(encoder, decoder, name=str(table["name"]))


def _gan_optimizers(table: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """The resolved [optimizer] of a GAN ({"generator": ..., "discriminator": ...}) and the two objects."""
    check_keys(table, ("generator", "discriminator"), "optimizer (GAN: one table per network)")
    resolved, built = {}, {}
    for part in ("generator", "discriminator"):
        sub = table.get(part, {})
        if not isinstance(sub, dict):
            raise ConfigError(f"optimizer.{part} must be a table ([optimizer.{part}] name = \"adam\"), got {sub!r}")
        try:
            resolved[part], built[part] = build_optimizer(dict(sub), GAN_OPTIMIZER)
        except ConfigError as exc:
            raise ConfigError(str(exc).replace("optimizer", f"optimizer.{part}", 1)) from None
    return resolved, built


def _data_facing(table: dict[str, Any], kind: str) -> list[Any]:
    """The layers that take the data (encoder, or a GAN's discriminator) from the first one that is not
    noise or dropout: the first of those decides the data's shape (a Conv2D gets images)."""
    specs = table.get(PARTS[kind][1] if kind == "gan" else PARTS[kind][0]) or []
    skip = ("GaussianNoise", "gaussian_noise", "Dropout", "dropout", "SpatialDropout2D", "spatial_dropout2d")
    while specs and isinstance(specs[0], dict) and specs[0].get("type") in skip:
        specs = specs[1:]
    return list(specs)


def setup_generative(config: dict[str, Any], training_raw: dict[str, Any], name: str | None) -> Any:
    """``runs.setup`` for a generative [model] kind: the RunSetup of a compiled Autoencoder, VAE or GAN."""
    from .runs import RunSetup, resolve_data

    kind = generative_kind(config)
    assert kind is not None
    if kind == "gan" and config.get("loss"):
        raise ConfigError("loss: a GAN's loss is fixed (binary cross-entropy on the discriminator's logits); "
                          "hint: remove the [loss] table")
    training_raw = {"metrics": [], **training_raw}
    if kind == "gan":
        training_raw.setdefault("diagnose", False)  # the gradient monitor follows one optimizer's model
    train_seed = number({**TRAINING_KEYS, **training_raw}, "seed", "training", 0, integer=True)
    data_table, prep_table, data = resolve_data({**config, "model": {"layers": _data_facing(config["model"], kind)}},
                                                train_seed)
    training = resolve_training({"training": training_raw}, data.task)
    model_table = resolve_model_table(dict(config["model"]), data, f"{data_table['name']}_{kind}")
    model = build_generative(model_table, data, train_seed)
    if kind == "gan":
        loss_table: dict[str, Any] = {}
        opt_table, parts = _gan_optimizers(dict(config.get("optimizer", {})))
        if training["metrics"]:
            raise ConfigError("training.metrics: a GAN logs d_loss, g_loss and the discriminator's accuracies; "
                              "hint: metrics = []")
        model.compile(d_optimizer=parts["discriminator"], g_optimizer=parts["generator"])
    else:
        loss_table, loss = build_loss({"name": "binary_crossentropy", **config.get("loss", {})}, data)
        opt_table, optimizer = build_optimizer(dict(config.get("optimizer", {})), DEFAULT_OPTIMIZER)
        try:
            model.compile(optimizer=optimizer, loss=loss, metrics=list(training["metrics"]))
        except GlassnetError as exc:
            raise ConfigError(f"training.metrics / loss: {exc}") from None
    from .config_build import build_callbacks
    from .generative_report import SampleGrids

    specs = [dict(spec) for spec in config.get("callbacks", [])]
    build_callbacks([dict(spec) for spec in specs], None)
    resolved = {"data": data_table, "preprocessing": prep_table, "model": model_table, "loss": loss_table,
                "optimizer": opt_table, "training": training, "callbacks": specs}
    return RunSetup(resolved, data, model, name or str(data_table["name"]), kind=kind,
                    callbacks=[SampleGrids(train_seed, real=data.x_train)])


__all__ = ["KINDS", "build_generative", "generative_kind", "resolve_model_table", "setup_generative"]
