"""The ``glassnet`` command line (also ``python -m glassnet``).

    glassnet train [CONFIG.toml] [--epochs N] [--seed S] [--out DIR] [--quiet]
    glassnet evaluate RUN_DIR_OR_MODEL [--data CONFIG_OR_CSV]
    glassnet predict MODEL INPUT.csv [-o OUT.csv]
    glassnet summary CONFIG_OR_MODEL
    glassnet export RUN_DIR_OR_MODEL --onnx OUT.onnx
    glassnet perceptron [--out DIR]

Exit codes: 0 success, 2 bad usage or configuration, 1 failure while running (e.g. during training).
One clear message goes to stderr; ``--debug`` shows the traceback instead.

Adding a command: write a ``Command`` (a parser setup function and a run function) in a module of
this package and add it to ``COMMANDS`` (or call ``register(command)``). A feature that builds its own
argparse subparsers instead adds a function ``add(subparsers)`` to ``PARSER_EXTENSIONS``; each of its
parsers sets a ``handler(args) -> exit code`` default, and gets the same error handling.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable
from typing import Any

from ..._version import __version__
from ...errors import ConfigError, MissingDependencyError, UnknownNameError
from .base import Command, UsageError
from .diagnostics import add_subcommands
from .export import EXPORT
from .model_commands import EVALUATE, PREDICT, SUMMARY
from .perceptron import PERCEPTRON
from .train import TRAIN

COMMANDS: list[Command] = [TRAIN, EVALUATE, PREDICT, SUMMARY, EXPORT, PERCEPTRON]
PARSER_EXTENSIONS: list[Callable[[Any], None]] = [add_subcommands]  # gradcheck, experiment



# Bad input that the user can fix by changing the command line or the config: exit code 2.
USAGE_ERRORS = (UsageError, ConfigError, UnknownNameError, MissingDependencyError)


def register(command: Command) -> Command:
    """Add a subcommand (replacing one of the same name)."""
    COMMANDS[:] = [c for c in COMMANDS if c.name != command.name] + [command]
    return command


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="glassnet",
        description="glassnet: a glass-box neural-network library on NumPy.",
        epilog="example: glassnet train            (the default MLP on the bundled digits)\n"
        "run 'glassnet COMMAND --help' for the options of a command",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--debug", action="store_true", help="show full tracebacks on errors")
    parser.add_argument("--version", action="version", version=f"glassnet {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for command in COMMANDS:
        command.add_to(sub)
    for add in PARSER_EXTENSIONS:
        add(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the command line; returns the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help(sys.stderr)
        return 2
    command = next((c for c in COMMANDS if c.name == args.command), None)
    run = command.run if command is not None else args.handler
    name = args.command
    try:
        return int(run(args))
    except USAGE_ERRORS as exc:
        if args.debug:
            raise
        print(f"glassnet {name}: error: {exc}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # output piped into e.g. `head`, which stopped reading: not an error
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except KeyboardInterrupt:
        print(f"glassnet {name}: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # any other failure while running: one line, exit 1
        if args.debug:
            raise
        print(f"glassnet {name}: failed: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1


__all__ = ["COMMANDS", "PARSER_EXTENSIONS", "Command", "UsageError", "build_parser", "main", "register"]
