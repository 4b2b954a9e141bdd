"""``glassnet evaluate``, ``glassnet predict`` and ``glassnet summary``: using a trained model."""

from __future__ import annotations

import argparse
import io
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from ..._typing import Array
from ..report import plural
from .base import Command, UsageError


def _open_model(path: str) -> tuple[Any, dict[str, Any] | None]:
    """A model and, for a run folder, its resolved config."""
    from ...models.saving import load_model
    from .. import config as config_module

    target = Path(path)
    if target.is_dir():
        if not (target / "model.glassnet").is_file():
            raise UsageError(f"{target} is a folder without model.glassnet; pass a run folder or a model file")
        config = config_module.load(target / "config.toml") if (target / "config.toml").is_file() else None
        return load_model(target / "model.glassnet"), config
    if not target.is_file():
        raise UsageError(f"{path}: no such run folder or model file")
    return load_model(target), None


def _identity(x: Array) -> Array:
    return np.asarray(x).reshape(len(x), -1)


def _run_transform(config: dict[str, Any] | None) -> Callable[[Array], Array]:
    """The input preprocessing of the run (rebuilt from its config: same seed, same split, same scaler)."""
    if config is None:
        return _identity
    from ...backend import floatx
    from ..config_data import make_transform
    from ..runs import resolve_data

    prep = config.get("preprocessing", {})
    if prep.get("scaler", "none") == "none" and "rescale" in prep:
        # nothing fitted: no need to load the data again
        return make_transform(prep, floatx(), shape=config.get("data", {}).get("shape"))
    return resolve_data(config, int(config.get("training", {}).get("seed", 0)))[2].transform


def _target_name(config: dict[str, Any] | None) -> str | None:
    target = (config or {}).get("data", {}).get("target")
    return target if isinstance(target, str) else None


# -- evaluate ---------------------------------------------------------------------------------------
def _configure_evaluate(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("model", metavar="RUN_DIR_OR_MODEL", help="a run folder or a .glassnet model file")
    parser.add_argument(
        "--data",
        help="a TOML config (its [data] test split) or a CSV with a header (default: the run's own test split)",
    )
    parser.add_argument("--target", help="target column of a CSV given with --data (default: the run's, else last)")
    parser.add_argument("--json", action="store_true", help="print the metrics as JSON")


def _evaluation_data(args: argparse.Namespace, config: dict[str, Any] | None) -> tuple[Array, Array, str]:
    from ... import datasets
    from .. import config as config_module
    from ..runs import resolve_data

    source = args.data
    if source is None and config is None:
        raise UsageError("a model file alone has no data: pass --data CONFIG.toml or --data FILE.csv")
    if source is not None and source.endswith(".csv"):
        x, y = datasets.load_csv(source, target=args.target or _target_name(config) or -1)
        assert y is not None
        return _run_transform(config)(x), y, source
    cfg = config_module.load(source) if source is not None else config
    assert cfg is not None
    data = resolve_data(cfg, int(cfg.get("training", {}).get("seed", 0)))[2]
    return data.x_test, data.y_test, source or "the run's test split"


def _evaluate(args: argparse.Namespace) -> int:
    model, config = _open_model(args.model)
    generative = (config or {}).get("model", {}).get("kind") in ("autoencoder", "vae", "gan")  # trained on x alone
    if model.loss is None and not generative:
        raise UsageError(f"{args.model}: the model was saved without compile settings; cannot evaluate")
    x, y, source = _evaluation_data(args, config)
    result = model.evaluate(x) if generative else model.evaluate(x, y)
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print(f"{len(x)} samples from {source}: " + ", ".join(f"{k} {v:.4f}" for k, v in result.items()))
    return 0


EVALUATE = Command(
    name="evaluate",
    help="loss and metrics of a trained model on test data",
    description="Evaluate a run's model on its test split (rebuilt from the run's config), or on other data.",
    examples=(
        "glassnet evaluate runs/digits-20261125-120000",
        "glassnet evaluate model.glassnet --data my.csv --target label",
    ),
    configure=_configure_evaluate,
    run=_evaluate,
)


# -- predict ----------------------------------------------------------------------------------------
def _configure_predict(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("model", metavar="MODEL", help="a run folder or a .glassnet model file")
    parser.add_argument("input", metavar="INPUT.csv", help="inputs, one row per sample, with a header row")
    parser.add_argument("-o", "--output", metavar="OUT.csv", help="where to write predictions (default: stdout)")


def _prediction_table(model: Any, outputs: Array) -> tuple[list[str], Array, list[str]]:
    """Header, values and formats: class and per-class probabilities for a classifier, else the outputs."""
    loss_name = type(model.loss).__name__.lower() if model.loss is not None else ""
    flat = outputs.reshape(len(outputs), -1).astype(np.float64)
    if flat.shape[1] > 1 and "crossentropy" in loss_name:
        header = ["prediction", *(f"p_{k}" for k in range(flat.shape[1]))]
        return header, np.column_stack([flat.argmax(axis=1), flat]), ["%d"] + ["%.9g"] * flat.shape[1]
    if flat.shape[1] == 1 and "binary" in loss_name:
        return ["prediction", "p_1"], np.column_stack([flat[:, 0] > 0.5, flat]), ["%d", "%.9g"]
    header = ["prediction"] if flat.shape[1] == 1 else [f"y_{k}" for k in range(flat.shape[1])]
    return header, flat, ["%.9g"] * flat.shape[1]


def _predict(args: argparse.Namespace) -> int:
    from ... import datasets
    from ...datasets.files import csv_header

    if args.output and Path(args.output).is_dir():
        example = Path(args.output) / "predictions.csv"
        raise UsageError(f"-o {args.output}: is a folder; hint: give a file, e.g. -o {example}")
    from ..csv_inputs import feature_columns, read_inputs, refuse_nonfinite, select_by_name

    model, config = _open_model(args.model)
    if not Path(args.input).is_file():
        raise UsageError(f"{args.input}: no such input file")
    target = _target_name(config)
    header = csv_header(args.input)
    present = target if target in header else None
    x, _ = datasets.load_csv(args.input, target=present)
    columns = feature_columns(header, present)
    refuse_nonfinite(x, args.input, columns)
    trained_on = read_inputs(Path(args.model)) if Path(args.model).is_dir() else None
    if trained_on is not None:
        x = select_by_name(x, columns, trained_on, args.input)
    width = int(np.prod(model.input_shape)) if model.input_shape else x.shape[1]
    if x.shape[1] != width:
        raise UsageError(
            f"{args.input} has {plural(x.shape[1], 'feature column')} but the model expects {width}; "
            "hint: one column per model input, plus at most the target column"
        )
    header, values, formats = _prediction_table(model, model.predict(_run_transform(config)(x)))
    buffer = io.StringIO()
    np.savetxt(buffer, values, fmt=formats, delimiter=",", header=",".join(header), comments="")
    if args.output:
        from ..run_files import write_text

        write_text(Path(args.output), buffer.getvalue())
    else:
        sys.stdout.write(buffer.getvalue())
    return 0


PREDICT = Command(
    name="predict",
    help="predictions of a trained model for the rows of a CSV file",
    description="Predict one output row per input row. A run folder applies the run's preprocessing;\n"
    "a bare model file takes the CSV columns as they are. A column named like the run's\n"
    "target is ignored.",
    examples=("glassnet predict runs/digits-20261125-120000 inputs.csv -o predictions.csv",),
    configure=_configure_predict,
    run=_predict,
)


# -- summary ----------------------------------------------------------------------------------------
def _configure_summary(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "target",
        metavar="CONFIG_OR_MODEL",
        help="a TOML config (or a shipped example's name), a run folder or a model file",
    )


def _summary(args: argparse.Namespace) -> int:
    from ...models.summary import summary_text
    from .. import config as config_module
    from ..runs import setup

    target = Path(args.target)
    if target.suffix == ".toml" or (not target.exists() and target.suffix != ".glassnet"):
        model = setup(config_module.load(config_module.find(args.target))).model
    else:
        model = _open_model(args.target)[0]
    print(summary_text(model))
    return 0


SUMMARY = Command(
    name="summary",
    help="the layer and parameter table of a config's model or a saved model",
    description="Print the Keras-like summary: each layer, its output shape and parameter count.",
    examples=(
        "glassnet summary spirals",
        "glassnet summary my_config.toml",
        "glassnet summary runs/digits-20261125-120000",
    ),
    configure=_configure_summary,
    run=_summary,
)
