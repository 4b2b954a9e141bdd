"""The ``glassnet`` command line.

    glassnet train [--epochs N] [--seed S] [--out DIR] [--quiet]

Exit codes: 0 success, 2 bad usage or configuration, 1 failure during training.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

from .errors import ConfigError, GlassnetError


def _build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="glassnet", description="glassnet: a glass-box neural-network library.")
    parser.add_argument("--debug", action="store_true", help="show full tracebacks on errors")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    train = sub.add_parser(
        "train",
        help="train a model and save it",
        description="Train the default MLP on the bundled 8x8 digits and save it.",
        epilog="example: glassnet train --epochs 30 --out runs/",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    train.add_argument("--epochs", type=int, default=30, help="number of epochs (default 30)")
    train.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    train.add_argument("--out", default="runs", help="folder for the saved model (default runs/)")
    train.add_argument("--quiet", action="store_true", help="print nothing but errors")
    return parser


def _train(args: argparse.Namespace) -> int:
    import glassnet as gn

    if args.epochs <= 0:
        raise ConfigError(f"--epochs must be a positive integer, got {args.epochs}")
    gn.set_seed(args.seed)
    x, y = gn.datasets.load_digits()
    x = x.reshape(len(x), -1).astype(np.float32) / 16.0
    order = np.random.default_rng(args.seed).permutation(len(x))
    cut = int(0.8 * len(x))
    train_idx, test_idx = order[:cut], order[cut:]
    model = gn.Sequential([
        gn.layers.Input(shape=(64,)),
        gn.layers.Dense(64, activation="relu", kernel_initializer="he_normal"),
        gn.layers.Dense(10, activation="softmax"),
    ], name="digits_mlp")
    model.compile(optimizer=gn.optimizers.SGD(learning_rate=0.05, momentum=0.9),
                  loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    start = time.perf_counter()
    model.fit(x[train_idx], y[train_idx], epochs=args.epochs, batch_size=32, validation_split=0.1,
              verbose=0 if args.quiet else 1, seed=args.seed)
    seconds = time.perf_counter() - start
    result = model.evaluate(x[test_idx], y[test_idx])
    out = Path(args.out)
    model.save(out / "model.glassnet")
    if not args.quiet:
        print(f"held-out accuracy: {result['accuracy']:.4f} (loss {result['loss']:.4f}) "
              f"on {len(test_idx)} digits, trained in {seconds:.1f}s")
        print(f"model saved to {out / 'model.glassnet'}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = _build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    try:
        return {"train": _train}[args.command](args)
    except ConfigError as exc:
        if args.debug:
            raise
        print(f"glassnet: error: {exc}", file=sys.stderr)
        return 2
    except (GlassnetError, ArithmeticError, ValueError, OSError) as exc:
        if args.debug:
            raise
        print(f"glassnet: training failed: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
