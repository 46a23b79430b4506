"""`soundwave align AUDIO TEXT_OR_FILE`: place a given text's words in a recording (CTC forced alignment).

soundwave align talk.wav "the words that are said"            # JSON: words and segments with times
soundwave align talk.wav transcript.txt --format srt -o talk.srt
soundwave align talk.wav transcript.txt --plot talk.png

The text can be anything (a reference transcript, an edited one): every word of it comes back with a start, an
end and a confidence; words the CTC cannot place are interpolated between their neighbours and flagged. Needs a
Soundwave model (its alignment adapter's CTC); docs/timestamps.md.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from soundwave.cli.options import add_model_flags, pipeline_from_args
from soundwave.cli.outputs import FORMATS, OutputWriter, record
from soundwave.cli.transcribe import check_output_file
from soundwave.errors import ConfigError


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "align",
        help="word and segment times of a given text in a recording",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("audio", help="the recording")
    parser.add_argument("text", help="the text, or a UTF-8 text file holding it")
    parser.add_argument("--format", default="json", choices=FORMATS, help="output format (default json)")
    parser.add_argument("--output", "-o", default="-", help="output file (default: stdout)")
    parser.add_argument("--plot", help="also draw the alignment into this PNG")
    add_model_flags(parser)
    parser.set_defaults(handler=run)


def read_text(text_or_file: str) -> str:
    """The text itself, or the contents of the file it names.

    Raises:
        ConfigError: the file is not UTF-8 text, or the text is empty.
    """
    path = Path(text_or_file)
    if path.is_file():
        try:
            text_or_file = path.read_text(encoding="utf-8")
        except UnicodeDecodeError as err:
            raise ConfigError(f"{path}: not UTF-8 text ({err.reason} at byte {err.start})") from None
    if not text_or_file.strip():
        raise ConfigError("the text to align is empty")
    return " ".join(text_or_file.split())


def run(args: argparse.Namespace) -> int:
    check_output_file(args.output)
    text = read_text(args.text)
    pipe = pipeline_from_args(args)
    from soundwave.audio import load_audio

    wave = load_audio(args.audio)
    alignment = pipe.align(wave, text)
    out = OutputWriter(args.format, args.output, several=False)
    try:
        row = record(args.audio, text, None, alignment.duration, list(alignment.words), list(alignment.segments))
        out.write(row, list(alignment.segments))
    finally:
        out.close()
    if args.plot:
        from soundwave.alignment.plot import plot_alignment

        plot_alignment(wave, alignment, args.plot, title=f"{Path(args.audio).name}: {text[:100]}")
    return 0
