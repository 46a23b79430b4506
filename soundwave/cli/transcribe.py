"""`soundwave transcribe FILES...`: batched transcription, one JSON line per file.

Decodes with the model's own transcription settings (its `generation.yaml` `transcribe:` section; a model without
one: the release's defaults, greedy) through `Pipeline.transcribe_batch`, the path the server and `soundwave eval
--task asr` take too. Any decoding flag overrides them (`--num-beams 1`: greedy, no beams).
"""

from __future__ import annotations

import argparse
import json
import sys

from tqdm import tqdm

from soundwave.cli.options import add_model_flags, pipeline_from_args
from soundwave.options import add_option_flags, option_overrides
from soundwave.prompts import TRANSCRIBE_PROMPT


def register(subparsers) -> None:
    parser = subparsers.add_parser("transcribe", help="transcribe audio files (JSONL out)")
    parser.add_argument("files", nargs="+", help="audio files")
    parser.add_argument("--prompt", default=TRANSCRIBE_PROMPT)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--output", "-o", default="-", help="JSONL file (default: stdout)")
    add_model_flags(parser)
    add_option_flags(parser)
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    pipe = pipeline_from_args(args)
    out = sys.stdout if args.output == "-" else open(args.output, "w")  # noqa: SIM115
    failed = 0
    options = option_overrides(args)
    try:
        with tqdm(total=len(args.files), unit="file", disable=args.output == "-" and not sys.stderr.isatty()) as bar:
            for start in range(0, len(args.files), args.batch_size):
                files = args.files[start : start + args.batch_size]
                results = pipe.transcribe_batch([{"audio": f, "prompt": args.prompt} for f in files], **options)
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
