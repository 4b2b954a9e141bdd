"""``glassnet perceptron``: the perceptron converges on separable blobs and fails on XOR."""

from __future__ import annotations

import argparse
import warnings
from pathlib import Path
from typing import Any

from .base import Command


def _configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", default="runs", help="folder that receives the demo folder (default runs/)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the data and the visiting order (default 0)")
    parser.add_argument("--max-epochs", type=int, default=1000, help="perceptron epochs before giving up")
    parser.add_argument("--quiet", action="store_true", help="print nothing")


def _fit(name: str, x: Any, y: Any, args: argparse.Namespace) -> tuple[Any, str]:
    from ...models.perceptron import ConvergenceWarning, Perceptron

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ConvergenceWarning)
        model = Perceptron(max_epochs=args.max_epochs, seed=args.seed).fit(x, y)
    status = (
        f"converged after {model.n_epochs_} epochs ({model.n_updates_} updates)"
        if model.converged_
        else f"did not converge in {model.n_epochs_} epochs ({model.n_updates_} updates)"
    )
    line = f"{name}: {status}; training accuracy {model.score(x, y):.3f} (best line: {model.best_accuracy_:.3f})"
    if caught:
        line += "\n  " + str(caught[0].message)
    return model, line


def _run(args: argparse.Namespace) -> int:
    from ... import datasets
    from .. import plotting
    from ..run_files import make_run_dir

    demos = {
        "separable": datasets.make_blobs(n_samples=200, noise=1.0, radius=1.5, seed=args.seed),
        "xor": datasets.make_xor(n_samples=200, noise=0.15, seed=args.seed),
    }
    out_dir = make_run_dir(Path(args.out), "perceptron")
    for name, (x, y) in demos.items():
        model, line = _fit(name, x, y, args)
        if not args.quiet:
            print(line)
        if plotting.available():
            title = f"perceptron on {name}: best line, accuracy {model.best_accuracy_:.2f}"

            def best_line(grid: Any, model: Any = model) -> Any:
                return (grid @ model.best_weights_ + model.best_bias_ > 0).astype(int)

            figure = plotting.plot_decision_boundary(best_line, x, y, title)
            plotting.save_figure(figure, out_dir / f"{name}.png")
    if not args.quiet:
        where = (
            f"decision boundaries: {out_dir}/separable.png, {out_dir}/xor.png"
            if plotting.available()
            else (f"no pictures: {plotting.PLOT_HINT} to draw the decision boundaries")
        )
        print(where)
        print("An MLP with a hidden layer learns XOR: glassnet train xor")
    return 0


PERCEPTRON = Command(
    name="perceptron",
    help="the perceptron on separable data (converges) and on XOR (cannot)",
    description="Fit gn.Perceptron to linearly separable blobs and to XOR, print what happened and save\n"
    "both decision boundaries as pictures.",
    examples=("glassnet perceptron", "glassnet perceptron --out /tmp/demo --seed 3"),
    configure=_configure,
    run=_run,
)
