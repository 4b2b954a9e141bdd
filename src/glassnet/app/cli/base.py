"""What a subcommand is: a name, its help, an example, a parser setup and a run function."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from dataclasses import dataclass

from ...errors import GlassnetError


class UsageError(GlassnetError, ValueError):
    """The command line asks for something impossible (exit code 2)."""


@dataclass(frozen=True)
class Command:
    """``configure(parser)`` adds the arguments; ``run(args)`` does the work and returns the exit code."""

    name: str
    help: str
    description: str
    examples: tuple[str, ...]
    configure: Callable[[argparse.ArgumentParser], None]
    run: Callable[[argparse.Namespace], int]

    def add_to(self, subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
        epilog = "examples:\n" + "\n".join(f"  {e}" for e in self.examples)
        parser = subparsers.add_parser(
            self.name,
            help=self.help,
            description=self.description,
            epilog=epilog,
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        parser.add_argument(
            "--debug", action="store_true", default=argparse.SUPPRESS, help="show full tracebacks on errors"
        )
        self.configure(parser)
        return parser
