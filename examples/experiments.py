"""Run the glass-box experiments and print their tables (figures and tables go to ``--out``).

    python examples/experiments.py                 # all six into experiments/
    python examples/experiments.py vanishing exploding --out /tmp/exp

The same as ``glassnet experiment NAME --out DIR``; see docs/experiments.md for what each one shows.
"""

import argparse

from glassnet.app.experiments.core import NAMES, run_experiment

parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
parser.add_argument("names", nargs="*", metavar="NAME", help="any of: " + ", ".join(NAMES) + " (default: all)")
parser.add_argument("--out", default="experiments")
args = parser.parse_args()
for name in args.names or NAMES:
    result = run_experiment(name, args.out)
    print(result.text(), f"\nfigure: {result.figure}\n", sep="\n")
