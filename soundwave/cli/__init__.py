"""The `soundwave` command: argparse subcommands, each a thin call into the library.

Each subcommand lives in its own module under `soundwave/cli/` and exposes `register(subparsers)`, which adds
its parser and sets `handler=<function(args) -> int>`.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys

from soundwave.errors import SoundwaveError

# module name under soundwave.cli -> registered in this order in `soundwave --help`
COMMANDS = ("ask", "transcribe", "align", "listen", "chat", "train", "eval", "serve", "models", "data")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="soundwave", description=__doc__.splitlines()[0])
    parser.add_argument("-v", "--verbose", action="store_true", help="log at DEBUG level")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMANDS:
        try:
            module = importlib.import_module(f"soundwave.cli.{name}")
        except ModuleNotFoundError as err:
            if err.name != f"soundwave.cli.{name}":
                raise
            continue  # subcommand not written yet
        module.register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO, format="%(levelname)s %(message)s")
    if not getattr(args, "handler", None):
        parser.print_help()
        return 2
    try:
        return int(args.handler(args) or 0)
    except SoundwaveError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
