"""``glassnet export RUN_DIR_OR_MODEL --onnx OUT.onnx``: a trained model for other runtimes."""

from __future__ import annotations

import argparse
from pathlib import Path

from .base import Command, UsageError
from .model_commands import _open_model


def _configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("model", metavar="RUN_DIR_OR_MODEL", help="a run folder or a .glassnet model file")
    parser.add_argument("--onnx", metavar="OUT.onnx", required=True, help="where to write the ONNX file")
    parser.add_argument("--opset", type=int, default=17, help="ONNX opset version (default 17)")


def _run(args: argparse.Namespace) -> int:
    from ...export import export_onnx

    out = Path(args.onnx)
    if out.is_dir():
        raise UsageError(f"--onnx {out} is a folder; give a file name such as {out / 'model.onnx'}")
    model, _ = _open_model(args.model)
    export_onnx(model, out, opset=args.opset)
    print(f"wrote {out} (ONNX opset {args.opset}); inputs take the run's preprocessed features")
    return 0


EXPORT = Command(
    name="export",
    help="write a trained model as an ONNX file",
    description="Export a run's model (or a model file) to ONNX, checked with onnx.checker. Inputs are the\n"
    "preprocessed features the model was trained on (apply the run's scaling first).",
    examples=("glassnet export runs/digits-20261125-120000 --onnx digits.onnx",),
    configure=_configure,
    run=_run,
)
