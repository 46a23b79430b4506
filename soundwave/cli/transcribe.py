"""`soundwave transcribe FILES...`: batched transcription, one JSON line per file.

Decodes with the model's own transcription settings (its `generation.yaml` `transcribe:` section; a model without
one: the release's defaults, greedy) through `Pipeline.transcribe_batch`, the path the server and `soundwave eval
--task asr` take too. Any decoding flag overrides them (`--num-beams 1`: greedy, no beams).

A file that fails (unreadable, not audio, too long for the model) gets its line with the reason in "error" and the
others go on; the exit status is 1 when any file failed, 0 when all were transcribed.

`--timestamps word|segment` adds each transcript's `words` and `segments` (CTC forced alignment, docs/timestamps.md);
`--format` writes jsonl (default), json, srt, vtt or txt (`soundwave.cli.outputs`); `--plot FILE.png` draws the
alignment (a folder of PNGs for several files).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from tqdm import tqdm

from soundwave.cli.options import add_model_flags, pipeline_from_args
from soundwave.cli.outputs import FORMATS, OutputWriter, check_folder, record, writes_folder
from soundwave.errors import ConfigError
from soundwave.options import add_option_flags, option_overrides
from soundwave.prompts import TRANSCRIBE_PROMPT


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "transcribe",
        help="transcribe audio files (JSONL out)",
        description="Transcribe audio files: one JSON line per file. A file that fails gets its reason in the "
        "'error' field and the others go on; exit status 1 when any file failed, 0 when all were transcribed.",
    )
    parser.add_argument("files", nargs="+", help="audio files")
    parser.add_argument("--prompt", default=TRANSCRIBE_PROMPT)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument(
        "--output", "-o", default="-", help="output file (default: stdout); a folder for srt/vtt/txt of several files"
    )
    parser.add_argument(
        "--timestamps",
        choices=("word", "segment"),
        help="add word and segment times (word) or segment times (segment) from the CTC alignment",
    )
    parser.add_argument("--format", default="jsonl", choices=FORMATS, help="output format (default jsonl)")
    parser.add_argument("--plot", help="PNG of each alignment (a folder when several files are given)")
    add_model_flags(parser)
    add_option_flags(parser)
    parser.set_defaults(handler=run)


def check_output_file(path: str) -> None:
    """Raise ConfigError unless `path` can be written as a file (checked before the model loads)."""
    if path == "-":
        return
    target = Path(path)
    if target.is_dir():
        raise ConfigError(f"--output {path}: is a directory; give a file name, e.g. {target / 'transcripts.jsonl'}")
    if not target.parent.is_dir():
        raise ConfigError(f"--output {path}: the folder {target.parent} does not exist; create it first")
    if not os.access(target.parent, os.W_OK) or (target.exists() and not os.access(target, os.W_OK)):
        raise ConfigError(f"--output {path}: not writable")


def run(args: argparse.Namespace) -> int:
    """Transcribe every file; 1 when any failed (each failure is on its line), else 0."""
    if args.batch_size < 1:
        raise ConfigError(f"--batch-size: expected at least 1, got {args.batch_size}")
    if writes_folder(args.format, args.files):
        check_folder(args.output, args.format, args.files)
    else:
        check_output_file(args.output)
    if args.plot and len(args.files) > 1 and not Path(args.plot).is_dir():
        raise ConfigError(f"--plot {args.plot}: with several files, give an existing folder for their PNGs")
    options = option_overrides(args)  # checked before the model loads
    timestamps = args.timestamps or ("word" if args.plot else "segment" if args.format in ("srt", "vtt") else None)
    pipe = pipeline_from_args(args)
    out = OutputWriter(args.format, args.output, several=len(args.files) > 1)
    failed = 0
    try:
        with tqdm(total=len(args.files), unit="file", disable=args.output == "-" and not sys.stderr.isatty()) as bar:
            for start in range(0, len(args.files), args.batch_size):
                files = args.files[start : start + args.batch_size]
                items = [{"audio": f, "prompt": args.prompt} for f in files]
                results = pipe.transcribe_batch(items, timestamps=timestamps, **options)
                for file, result in zip(files, results, strict=True):
                    row = record(file, result.text, result.error, result.audio_seconds, result.words, result.segments)
                    out.write(row, result.segments)
                    failed += result.error is not None
                    if args.plot and result.error is None:
                        plot_file(pipe, file, result.text, args.plot, several=len(args.files) > 1)
                bar.update(len(files))
    finally:
        out.close()
    if failed:
        print(f"{failed} of {len(args.files)} files failed (see the 'error' field)", file=sys.stderr)
    return 1 if failed else 0


def plot_file(pipe, file: str, text: str, plot: str, several: bool) -> None:
    """Draw `text` aligned to `file` into `plot` (a PNG, or a folder's <stem>.png when `several`)."""
    from soundwave.alignment.plot import plot_alignment
    from soundwave.audio import load_audio

    wave = load_audio(file)
    target = Path(plot) / f"{Path(file).stem}.png" if several else Path(plot)
    plot_alignment(wave, pipe.align(wave, text), target, title=f"{Path(file).name}: {text[:100]}")
