"""`soundwave chat`: an interactive conversation. Type a prompt; `/audio PATH` attaches a recording, `/reset`."""

from __future__ import annotations

import argparse
import sys

from soundwave.cli.options import add_model_flags, pipeline_from_args
from soundwave.errors import SoundwaveError
from soundwave.inference.chat import Conversation
from soundwave.options import add_option_flags, option_overrides

HELP = "commands: /audio PATH (attach a recording), /reset (forget everything), /quit"


def register(subparsers) -> None:
    parser = subparsers.add_parser("chat", help="interactive chat with audio attachments")
    parser.add_argument("--audio", default=None, help="a recording to start with")
    add_model_flags(parser)
    add_option_flags(parser)
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    options = option_overrides(args)  # checked before the model loads
    pipe = pipeline_from_args(args)
    conversation = Conversation(pipe)
    if args.audio:
        conversation.attach(args.audio)
    print(HELP, file=sys.stderr)
    for line in sys.stdin:
        line = line.strip()
        if not line:
            continue
        if line in ("/quit", "/exit"):
            break
        if line == "/reset":
            conversation.reset()
            print("(conversation reset)")
            continue
        if line.startswith("/audio"):
            path = line[len("/audio") :].strip()
            try:
                conversation.attach(path)
                print(f"(attached {path})")
            except SoundwaveError as err:
                print(f"error: {err}")
            continue
        try:
            for piece in conversation.stream(line, **options):
                sys.stdout.write(piece)
                sys.stdout.flush()
            sys.stdout.write("\n")
        except SoundwaveError as err:
            print(f"error: {err}")
    return 0
