"""`soundwave transcribe FILES...`: batched transcription, one JSON line per file.

Soundwave models decode jointly with their CTC alignment adapter (`--ctc-weight`, default 0.5; 0 turns it off), with
8 beams (`--num-beams`, `TRANSCRIBE_BEAMS`, chosen on the dev set of an unseen accent: 29.25 % greedy, 24.34 % with
8 beams; the bundled model's held-out WER 25.7 % greedy, 20.3 % with 4 beams, 19.7 % with 8; docs/mini.md, sessions
22-23); `--num-beams 4` is a quarter faster (LibriVox: 21.1 % against 23.9 % with 8), `--num-beams 1` is greedy.
"""

from __future__ import annotations

import argparse
import json
import sys

from tqdm import tqdm

from soundwave.cli.options import add_generation_flags, add_model_flags, generation_overrides, pipeline_from_args

TRANSCRIBE_PROMPT = "What does the person say?"
TRANSCRIBE_BEAMS = 8  # beam width for models that decode jointly with CTC


def register(subparsers) -> None:
    parser = subparsers.add_parser("transcribe", help="transcribe audio files (JSONL out)")
    parser.add_argument("files", nargs="+", help="audio files")
    parser.add_argument("--prompt", default=TRANSCRIBE_PROMPT)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--output", "-o", default="-", help="JSONL file (default: stdout)")
    add_model_flags(parser)
    add_generation_flags(parser)
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    pipe = pipeline_from_args(args)
    out = sys.stdout if args.output == "-" else open(args.output, "w")  # noqa: SIM115
    failed = 0
    flags = {k: v for k, v in generation_overrides(args).items() if v is not None}
    beams = {"num_beams": TRANSCRIBE_BEAMS} if pipe.has_ctc else {}
    overrides = pipe.transcription_options() | beams | flags | {"greedy": True}
    try:
        with tqdm(total=len(args.files), unit="file", disable=args.output == "-" and not sys.stderr.isatty()) as bar:
            for start in range(0, len(args.files), args.batch_size):
                files = args.files[start : start + args.batch_size]
                results = pipe.generate_batch([{"audio": f, "prompt": args.prompt} for f in files], **overrides)
                for file, result in zip(files, results, strict=True):
                    line = {"file": file, "text": result.text, "error": result.error, "seconds": result.audio_seconds}
                    out.write(json.dumps(line) + "\n")
                    failed += result.error is not None
                out.flush()
                bar.update(len(files))
    finally:
        if out is not sys.stdout:
            out.close()
    if failed:
        print(f"{failed} of {len(args.files)} files failed (see the 'error' field)", file=sys.stderr)
    return 1 if failed == len(args.files) else 0
