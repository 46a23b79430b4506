"""Worst-case transcription cost: the model's own transcription decoding (beams, joint CTC, word repair) against
plain greedy decoding of the same clips, on inputs built to make decoding run long.

    python bench/worst_case_transcribe.py [--model soundwave-mini] [--out runs/bench/worst_case.json]

Two greedy references, side by side in the same run: greedy as it runs (the LLM alone stops where it likes: on
adversarial audio after a short, invented sentence) and greedy held to the same number of tokens as the default
decoding produced (its end-of-turn banned until then, through a bench-only `Rescorer`), which isolates what the
add-ons cost per token.

Clips (made here, offline): an unseen-accent sentence of rare words (espeak-ng en-029), 10 s of fast gibberish
(every word a non-word: the spelling CTC hears letters throughout, word repair works on each), 30 s of white noise,
30 s of silence. Prints, per clip, the
median wall time of each decoding over --repeats runs and their ratio.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile as sf

GREEDY = {"num_beams": 1, "ctc_weight": 0.0, "spelling_weight": 0.0, "word_repair": 0.0, "word_repair_speech": 0.0}
RATE = 16_000


def make_clips(folder: Path) -> dict[str, Path]:
    rng = np.random.default_rng(0)
    clips = {}
    speech = {
        "rare-words-accent": ("en-029", 190, "Brusque Kafkaesque bureaucrats ignored Nguyen's phlegmatic xylophones"),
        "gibberish-10s": ("en-us", 320, " ".join("".join(rng.choice(list("bcdfgklmnprstvz"), 5)) for _ in range(30))),
    }
    for name, (voice, speed, text) in speech.items():
        path = folder / f"{name}.wav"
        subprocess.run(["espeak-ng", "-v", voice, "-s", str(speed), "-w", str(path), text], check=True)
        wave, rate = sf.read(path, dtype="float32")
        sf.write(path, wave[: 10 * rate], rate)
        clips[name] = path
    for name, wave in {
        "noise-30s": rng.normal(0, 0.1, 30 * RATE).astype(np.float32),
        "silence-30s": np.zeros(30 * RATE, dtype=np.float32),
    }.items():
        clips[name] = folder / f"{name}.wav"
        sf.write(clips[name], wave, RATE)
    return clips


class SameLength:
    """A bench-only rescorer: greedy decoding held to exactly `tokens` new tokens (end-of-turn banned before)."""

    name, rewrites, tokens = "same_length", False, 0

    def applies(self, config) -> bool:
        return self.tokens > 0

    def max_new_tokens(self, context, config) -> int:
        return self.tokens

    def logits_processors(self, context, config) -> list:
        from transformers import MinNewTokensLengthLogitsProcessor

        return [MinNewTokensLengthLogitsProcessor(0, self.tokens, context.eos_token_id)]

    def nbest(self, config) -> int:
        return 1


def timed(pipe, clip: Path, repeats: int, options: dict) -> tuple[float, str, int]:
    seconds, result = [], None
    for _ in range(repeats):
        started = time.perf_counter()
        result = pipe.transcribe(str(clip), **options)
        seconds.append(time.perf_counter() - started)
    return statistics.median(seconds), result.text, result.output_tokens


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="soundwave-mini")
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument("--only", default=None, help="comma-separated clip names (default: all)")
    args = parser.parse_args()
    import soundwave.decoding as decoding
    from soundwave.inference.pipeline import Pipeline

    same_length = SameLength()
    decoding.RESCORERS = (*decoding.RESCORERS, same_length)
    pipe = Pipeline.from_pretrained(args.model)
    rows = []
    with tempfile.TemporaryDirectory() as scratch:
        for name, clip in make_clips(Path(scratch)).items():
            if args.only and name not in args.only.split(","):
                continue
            greedy, _, greedy_tokens = timed(pipe, clip, args.repeats, GREEDY)
            full, text, tokens = timed(pipe, clip, args.repeats, {})
            same_length.tokens = tokens
            held, _, held_tokens = timed(pipe, clip, args.repeats, GREEDY)
            same_length.tokens = 0
            row = {"clip": name, "greedy_s": round(greedy, 2), "default_s": round(full, 2),
                   "ratio": round(full / greedy, 1), "greedy_tokens": greedy_tokens, "default_tokens": tokens,
                   "greedy_same_length_s": round(held, 2), "same_length_tokens": held_tokens,
                   "ratio_same_length": round(full / held, 1), "text": text[:80]}  # fmt: skip
            rows.append(row)
            print(json.dumps(row), flush=True)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(rows, indent=1))
    worst = max(r["ratio"] for r in rows), max(r["ratio_same_length"] for r in rows)
    print(f"worst ratio {worst[0]}x (same length {worst[1]}x); worst default {max(r['default_s'] for r in rows)} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
