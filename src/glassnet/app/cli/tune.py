"""``glassnet tune CONFIG --trials N``: Optuna search over the config's [tune.space] (see app/tune.py)."""

from __future__ import annotations

import argparse
from pathlib import Path

from .base import Command, UsageError


def _configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("config", help="TOML config with a [tune] table and [tune.space] entries")
    parser.add_argument("--trials", type=int, default=20, help="trials in the study, counting earlier ones (20)")
    parser.add_argument("--timeout", type=float, help="stop starting new trials after this many seconds")
    parser.add_argument("--out", help="tune folder (default tune/<config name>); an existing study there resumes")
    parser.add_argument("--seed", type=int, default=0, help="seed of the sampler (default 0)")


def _run(args: argparse.Namespace) -> int:
    from .. import config as config_module
    from ..tune import optimize

    if args.trials < 1:
        raise UsageError(f"--trials must be a positive integer, got {args.trials}")
    raw = config_module.load(config_module.find(args.config))
    name = Path(args.config).stem
    out = Path(args.out) if args.out else Path("tune") / name
    if out.exists() and not out.is_dir():
        raise UsageError(f"--out {out} is a file; give a folder")
    result = optimize(raw, trials=args.trials, out=out, timeout=args.timeout, seed=args.seed, name=name)
    print(f"best value {result.best_value:.6g} with {result.best_params}")
    print(f"wrote {out / 'best.toml'} (run it: glassnet train {out / 'best.toml'}) and {out / 'report.html'}")
    return 0


TUNE = Command(
    name="tune",
    help="search hyperparameters with Optuna ([tune.space] in the config)",
    description="Run an Optuna study over the [tune.space] of a config: each trial trains the config with\n"
    "sampled values; a median pruner stops poor trials early. The study lives in a journal file in the\n"
    "tune folder, so running the command again resumes it.",
    examples=(
        "glassnet tune my.toml --trials 30",
        "glassnet tune my.toml --trials 60 --timeout 600 --out tune/my",
    ),
    configure=_configure,
    run=_run,
)
