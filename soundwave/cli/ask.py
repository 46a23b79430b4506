"""`soundwave ask AUDIO [PROMPT]`: print the model's answer about one recording."""

from __future__ import annotations

import argparse
import sys

from soundwave.cli.options import add_model_flags, pipeline_from_args
from soundwave.options import add_option_flags, option_overrides

DEFAULT_PROMPT = "What does the person say?"


def register(subparsers) -> None:
    parser = subparsers.add_parser("ask", help="answer a question about an audio file")
    parser.add_argument("audio", help="audio file (any common format and rate)")
    parser.add_argument("prompt", nargs="?", default=DEFAULT_PROMPT, help=f"default: {DEFAULT_PROMPT!r}")
    parser.add_argument("--stream", action="store_true", help="print the answer as it is generated")
    add_model_flags(parser)
    add_option_flags(parser)
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    options = option_overrides(args)  # checked before the model loads
    pipe = pipeline_from_args(args)
    if args.stream:
        for piece in pipe.stream(args.audio, args.prompt, **options):
            sys.stdout.write(piece)
            sys.stdout.flush()
        sys.stdout.write("\n")
    else:
        print(pipe.generate(args.audio, args.prompt, **options).text)
    return 0
