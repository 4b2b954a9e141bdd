"""Command-line handlers for the glass box, to be registered on the ``glassnet`` parser:

    glassnet gradcheck CONFIG_OR_MODEL [--samples N] [--max-params N] [--seed S]
    glassnet experiment NAME [--out DIR]

``add_subcommands(subparsers)`` adds both; each parser's ``handler`` default is a function
``handler(args) -> exit code`` (0 success, 1 check failed, 2 bad usage).

CONFIG_OR_MODEL is a ``glassnet train`` config (a TOML path or a shipped example's name: the model, loss and
the first training samples are built as ``glassnet train`` builds them), a saved model (``model.save(...)``),
or a JSON/TOML file describing one: ``{"model": {"class_name": "Sequential", "config": ...}, "loss": ...}``
(the ``config.json`` inside a model file has this form, with the loss under ``compile``), or a short form
``input_shape = [4]``, ``layers = [{class_name = "Dense", units = 3, activation = "tanh"}, ...]``, ``loss =
"mse"`` (at the top level or under ``[model]``).
"""

from __future__ import annotations

import argparse
import json
import sys
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from ..._typing import Array
from ...errors import ConfigError, GlassnetError


def add_subcommands(subparsers: Any) -> None:
    """Register ``gradcheck`` and ``experiment`` on an ``argparse`` subparsers object."""
    from ..experiments.core import NAMES

    check = subparsers.add_parser(
        "gradcheck",
        help="check a model's gradients against finite differences",
        description="Compare every trainable parameter's backprop gradient with central differences in "
        "float64, on a random batch. Exit code 0 if all relative errors are below the threshold.",
    )
    check.add_argument("model", metavar="CONFIG_OR_MODEL", help="a saved model file, or a JSON/TOML model config")
    check.add_argument("--samples", type=int, default=8, help="random batch size (default 8)")
    check.add_argument(
        "--max-params",
        type=int,
        default=None,
        help="check at most N random entries per tensor (default: all)",
    )
    check.add_argument("--seed", type=int, default=0, help="seed of the batch and the sample (default 0)")
    check.add_argument("--threshold", type=float, default=1e-6, help="pass below this relative error (1e-6)")
    check.set_defaults(handler=gradcheck_command)
    experiment = subparsers.add_parser(
        "experiment",
        help="run one of the glass-box experiments",
        description="Run an experiment and write NAME.png and NAME.md into the output folder.",
        epilog="experiments: " + ", ".join(NAMES) + ", or all",
    )
    experiment.add_argument("name", metavar="NAME", help="one of: " + ", ".join(NAMES) + ", all")
    experiment.add_argument("--out", default="experiments", help="output folder (default experiments/)")
    experiment.set_defaults(handler=experiment_command)


def gradcheck_command(args: argparse.Namespace) -> int:
    """``glassnet gradcheck``: print the gradient report; 0 if it passed, 1 if not, 2 on bad input."""
    from ...diagnostics.model_check import gradient_check

    try:
        if args.samples <= 0:
            raise ConfigError(f"--samples must be a positive integer, got {args.samples}")
        found = _from_train_config(args.model, args.samples)
        if found is not None:
            model, loss, x, y = found
        else:
            model, loss = load_model_or_config(Path(args.model))
            x, y = random_batch(model, loss, args.samples, args.seed)
        report = gradient_check(
            model,
            x,
            y,
            max_params_per_tensor=args.max_params,
            seed=args.seed,
            threshold=args.threshold,
            loss=loss,
        )
    except (GlassnetError, OSError, ValueError) as exc:
        print(f"glassnet gradcheck: error: {exc}", file=sys.stderr)
        return 2
    print(report)
    return 0 if report.passed else 1


def experiment_command(args: argparse.Namespace) -> int:
    """``glassnet experiment``: run it, print its table, say where the files are."""
    from ..experiments.core import NAMES, run_experiment

    names = list(NAMES) if args.name == "all" else [args.name]
    try:
        for name in names:
            result = run_experiment(name, args.out)
            print(result.text())
            print(f"\nwrote {result.figure} and {Path(args.out) / (name + '.md')}\n")
    except GlassnetError as exc:
        print(f"glassnet experiment: error: {exc}", file=sys.stderr)
        return 2
    return 0


TRAIN_CONFIG_TABLES = ("data", "preprocessing", "optimizer", "training", "callbacks")


def _from_train_config(name_or_path: str, n: int) -> tuple[Any, Any, Array, Array] | None:
    """Model, loss and the first ``n`` training samples of a ``glassnet train`` config (a TOML path or the
    name of a shipped example), built as training builds them; ``None`` for a model file, a JSON or
    short-form config."""
    path = Path(name_or_path)
    if path.is_file() and (zipfile.is_zipfile(path) or path.suffix != ".toml"):
        return None
    if path.is_file():
        raw = _read_config(path)
        model = raw.get("model", {})
        if "input_shape" in raw or "input_shape" in model or "class_name" in model:
            return None  # the forms load_model_or_config reads
    from .. import config as config_module
    from .. import runs

    setup = runs.setup(config_module.load(config_module.find(name_or_path)))
    return setup.model, setup.model.loss, setup.data.x_train[:n], setup.data.y_train[:n]


def load_model_or_config(path: Path) -> tuple[Any, Any]:
    """A built model and its loss from a model file or a JSON/TOML config (see the module docstring)."""
    from ... import losses
    from ...models.saving import load_model

    if not path.exists():
        raise ConfigError(f"{path}: no such file; give a saved model or a .json/.toml model config")
    if zipfile.is_zipfile(path) or path.suffix == ".glassnet" or path.is_dir():  # damaged files: ModelFileError
        model = load_model(path)
        return model, model.loss
    config = _read_config(path)
    section = config.get("model", config)
    if "class_name" in section:
        from ...layers import deserialize_layer

        model = deserialize_layer(section)
    else:
        model = _model_from_short_form(section, path)
    loss = config.get("loss") or section.get("loss") or (config.get("compile") or {}).get("loss")
    if loss is None:
        raise ConfigError(f'{path}: no loss given; add loss = "mean_squared_error" (or another loss name)')
    if not model.built:
        raise ConfigError(f"{path}: the model's input shape is unknown; add input_shape = [n_features]")
    return model, losses.get(loss)


def _read_config(path: Path) -> dict[str, Any]:
    text = path.read_text()
    if path.suffix == ".toml":
        try:
            import tomllib
        except ImportError:  # Python 3.10
            import tomli as tomllib  # type: ignore[no-redef]
        return tomllib.loads(text)
    try:
        return dict(json.loads(text))
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{path}: not valid JSON ({exc}); use a .toml suffix for TOML") from None


def _model_from_short_form(section: dict[str, Any], path: Path) -> Any:
    from ...layers import Input, deserialize_layer
    from ...models import Sequential

    if "layers" not in section:
        raise ConfigError(f"{path}: expected a 'model' or 'layers' entry describing the network")
    layers = []
    for entry in section["layers"]:
        entry = dict(entry)
        name = entry.pop("class_name", None) or entry.pop("type", None)
        config = entry.pop("config", entry)
        layers.append(deserialize_layer({"class_name": name, "config": config}))
    shape = section.get("input_shape")
    return Sequential(([Input(shape=tuple(shape))] if shape else []) + layers)


def random_batch(model: Any, loss: Any, n: int, seed: int) -> tuple[Array, Array]:
    """Inputs x ~ N(0, 1) and targets that suit ``loss`` (class labels, one-hot, {0, 1} or reals)."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, *model.input_shape))
    out = tuple(model.output_shape)
    name = getattr(loss, "name", "")
    if name == "sparse_categorical_crossentropy":
        return x, rng.integers(0, out[-1], size=(n, *out[:-1]))
    if name == "categorical_crossentropy":
        return x, np.eye(out[-1])[rng.integers(0, out[-1], size=(n, *out[:-1]))]
    if name in ("binary_crossentropy", "hinge", "perceptron"):
        return x, rng.integers(0, 2, size=(n, *out)).astype(np.float64)
    return x, rng.normal(size=(n, *out))
