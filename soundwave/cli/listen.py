"""`soundwave listen FILE|-`: live captions of a recording as it plays (the model's CTC head, no LLM), then questions.

A file is played through a live stream (`Pipeline.listen`, docs/live.md) at real time, or as fast as the model goes
with `--fast`; `-` reads raw 16 kHz 16-bit little-endian mono PCM from stdin as it arrives (e.g. `arecord -f S16_LE
-r 16000 -c 1 | soundwave listen -`). Final captions are printed as they settle; `--partials` also shows the
unsettled text (on stderr); `--ask PROMPT` asks the LLM about everything heard once the stream ends. Ctrl-C ends the
stream early: what was heard still settles, and is still asked about.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Iterator

import numpy as np

from soundwave.audio import SAMPLE_RATE, load_audio
from soundwave.cli.options import add_model_flags, pipeline_from_args
from soundwave.options import add_option_flags, option_overrides

PIECE_SECONDS = 0.2  # audio fed at a time, as a microphone would deliver it
PIECE_BYTES = int(PIECE_SECONDS * SAMPLE_RATE) * 2  # 16-bit samples


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "listen",
        help="live captions of a file played at real time (or raw PCM on stdin), then questions",
        description=__doc__.splitlines()[0].split(": ", 1)[1],
    )
    parser.add_argument("audio", help="audio file (any common format), or - for raw 16 kHz PCM16 mono on stdin")
    parser.add_argument("--fast", action="store_true", help="play the file as fast as the model goes")
    parser.add_argument("--partials", action="store_true", help="also show the unsettled captions (on stderr)")
    parser.add_argument("--jsonl", action="store_true", help="print every event (partial and final) as a JSON line")
    parser.add_argument(
        "--ask", action="append", default=[], metavar="PROMPT", help="after the stream, ask this about it (repeatable)"
    )
    add_model_flags(parser)
    add_option_flags(parser)
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    options = option_overrides(args)  # checked before the model loads
    wave = load_audio(args.audio) if args.audio != "-" else None  # an unreadable file fails before the model loads
    stream = pipeline_from_args(args).listen()
    show = Captions(args.jsonl, args.partials)
    pieces = pcm_pieces(sys.stdin.buffer) if wave is None else played(wave, args.fast)
    try:
        for samples in pieces:
            show(stream.feed(samples))
    except KeyboardInterrupt:  # the end of the stream, not of the program
        pass
    show(stream.finish())
    for prompt in args.ask:
        answer = stream.ask(prompt, **options)
        if args.jsonl:
            print(
                json.dumps({"type": "answer", "prompt": prompt, "text": answer.text, "heard_from": answer.heard_from})
            )
        else:
            print(
                f"\nQ: {prompt}\nA: {answer.text}"
                + (f"  (heard from {answer.heard_from:.1f} s)" * bool(answer.heard_from))
            )
    return 0


def played(wave: np.ndarray, fast: bool) -> Iterator[np.ndarray]:
    """The recording in pieces, each when it would have been heard (at once with `fast`)."""
    step = int(PIECE_SECONDS * SAMPLE_RATE)
    started = time.monotonic()
    for at in range(0, wave.shape[0], step):
        piece = wave[at : at + step]
        if not fast:
            time.sleep(max(0.0, started + (at + piece.shape[0]) / SAMPLE_RATE - time.monotonic()))
        yield piece


def pcm_pieces(stream) -> Iterator[np.ndarray]:
    """16-bit little-endian PCM from a byte stream, as it arrives, as float32 samples."""
    leftover = b""
    while data := stream.read(PIECE_BYTES):
        data, leftover = leftover + data, b""
        if len(data) % 2:  # half a sample: keep it for the next read
            data, leftover = data[:-1], data[-1:]
        yield np.frombuffer(data, dtype="<i2").astype(np.float32) / 32768


class Captions:
    """Prints events: finals on stdout as they settle, partials on stderr (rewritten in place on a terminal)."""

    def __init__(self, jsonl: bool, partials: bool) -> None:
        self.jsonl, self.partials = jsonl, partials
        self.rewrite = partials and sys.stderr.isatty()

    def __call__(self, events) -> None:
        for event in events:
            if self.jsonl:
                print(json.dumps(event.to_dict(), ensure_ascii=False), flush=True)
            elif event.type == "final":
                if self.rewrite:
                    sys.stderr.write("\r\x1b[2K")
                print(f"[{event.start:7.2f} - {event.end:7.2f}] {event.text}", flush=True)
            elif self.partials and self.rewrite:
                sys.stderr.write(f"\r\x1b[2K\x1b[3;90m{event.text[-100:]}\x1b[0m")  # grey italic, the newest words
                sys.stderr.flush()
            elif self.partials and event.text:
                print(f"  ... {event.text}", file=sys.stderr, flush=True)
