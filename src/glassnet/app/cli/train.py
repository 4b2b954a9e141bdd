"""``glassnet train``: a run from a TOML config (or the default run) to a run folder with a report."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from ... import distributed
from .. import plotting
from ..config import examples
from ..report import format_number, format_seconds, plural
from .base import Command, UsageError


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "config",
        nargs="?",
        help="TOML config file, or the name of a shipped example: "
        f"{', '.join(examples())} (default: the MLP on the bundled 8x8 digits)",
    )
    parser.add_argument("--epochs", type=int, help="override training.epochs")
    parser.add_argument("--seed", type=int, help="override training.seed (default 0: runs repeat exactly)")
    parser.add_argument("--out", default="runs", help="folder that receives the run folder (default runs/)")
    parser.add_argument("--name", help="run name (default: the config file name, or the data set name)")
    parser.add_argument(
        "--resume",
        metavar="RUN_DIR",
        help="continue a run that was killed or interrupted, from its last epoch backup (bit for bit)",
    )
    output = parser.add_mutually_exclusive_group()
    output.add_argument("--quiet", action="store_true", help="print nothing (errors still go to stderr)")
    output.add_argument(
        "--verbose",
        type=int,
        choices=(1, 2),
        default=1,
        help="1: a progress bar per epoch on a terminal (default); 2: one line per epoch",
    )


def _describe_metrics(values: dict[str, float] | None) -> str:
    return ", ".join(f"{k} {format_number(v)}" for k, v in (values or {}).items())


def run(args: argparse.Namespace) -> int:
    comm = distributed.world()
    if comm.size == 1:
        return _train(args)
    try:  # under mpiexec a failure on one rank (a missing file, say) must end all of them, not hang them
        return _train(args)
    except Exception as exc:
        distributed.report_and_abort(comm, exc)


def _train(args: argparse.Namespace) -> int:
    from .. import config as config_module
    from .. import runs
    from ..run_control import PipeSafeStream, resume_source

    if args.epochs is not None and args.epochs < 1:
        raise UsageError(f"--epochs must be a positive integer, got {args.epochs}")
    if args.seed is not None and args.seed < 0:
        raise UsageError(f"--seed must be a non-negative integer, got {args.seed}")
    if Path(args.out).exists() and not Path(args.out).is_dir():
        raise UsageError(f"--out {args.out}: is a file; hint: --out names the folder that receives the run folder")
    resume = resume_source(args.resume) if args.resume else None
    if resume is not None and (args.config or args.seed is not None or args.name):
        raise UsageError("--resume takes the run's own config.toml; give no CONFIG, --seed or --name with it")
    source = str(resume / "config.toml") if resume is not None else args.config
    raw: dict[str, Any] = config_module.load(config_module.find(source)) if source else {}
    name = args.name or (Path(args.config).stem if args.config else None)
    setup = runs.setup(raw, epochs=args.epochs, seed=args.seed, name=name)
    if not isinstance(sys.stdout, PipeSafeStream):
        sys.stdout = PipeSafeStream(sys.stdout)  # type: ignore[assignment]  # `| head` must not kill the run
    data, quiet = setup.data, args.quiet or distributed.rank() != 0  # under mpiexec rank 0 speaks
    if not quiet:
        print(
            f"glassnet: training {setup.model.name} on {setup.config['data']['name']} ({data.task}: "
            f"{len(data.x_train)} train / {len(data.x_test)} test samples, "
            f"{plural(setup.config['training']['epochs'], 'epoch')})",
            flush=True,
        )
    result = runs.train(setup, out=args.out, verbose=0 if quiet else args.verbose, resume=resume)
    if result.metrics["status"] == "interrupted":
        m = result.metrics
        print(
            f"glassnet train: {m['interrupted']}; the run folder {result.run_dir} holds the model, history and "
            f"report of the epochs done; resume with: {m['resume']}",
            file=sys.stderr,
        )
        return int(m["exit_code"])
    if not quiet:
        m = result.metrics
        print(
            f"test: {_describe_metrics(m['test'])} | train: {_describe_metrics(m['train'])} "
            f"| {plural(m['epochs_run'], 'epoch')} in {format_seconds(m['wall_time_s'])}"
        )
        print(f"run folder: {result.run_dir}")
        print(f"report: {result.run_dir / 'report.html'}", flush=True)
        if not plotting.available():
            print(f"no pictures in the report: {plotting.PLOT_HINT} and train again to get them")
    if result.metrics.get("diverged_at_epoch"):
        # The run folder is still written (its curves show where it went wrong), but the run failed.
        print(
            f"glassnet train: failed: {runs.divergence_message(result.metrics['diverged_at_epoch'])}", file=sys.stderr
        )
        return 1
    return 0


TRAIN = Command(
    name="train",
    help="train a model from a TOML config (default: an MLP on the bundled digits)",
    description="Train a model and write a run folder: config, model, history, metrics, plots, report.html.\n"
    "Without a config: an MLP (64 ReLU units) on the bundled 8x8 digits, seed 0.\n"
    "Example configs ship inside the package (glassnet/app/examples/*.toml); name one to run it.",
    examples=(
        "glassnet train",
        "glassnet train --epochs 5 --out /tmp/runs --quiet",
        "glassnet train moons --seed 1",
        "glassnet train my_config.toml --out runs/",
        "glassnet train --resume runs/digits-20261201-120000",
        "mpiexec -n 2 glassnet train my_config.toml   # data-parallel on 2 processes (glassnet[mpi])",
    ),
    configure=configure,
    run=run,
)
