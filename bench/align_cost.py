"""What timestamps cost next to the transcription they annotate, and how soundwave-mini's word times compare with
Whisper tiny.en's on real speech without reference times (the LibriVox clips).

    python bench/align_cost.py [--data data/eval/librivox.jsonl] [--model soundwave-mini] [--out FILE.json]

Per clip: the model's own transcription (its `generation.yaml` decoding, as `soundwave transcribe`), the alignment
of that transcript (`transcribe(timestamps="word")` minus the transcription), the alignment of the manifest's
reference transcript (`Pipeline.align`), and Whisper tiny.en's own word timestamps (`soundwave eval --baseline
whisper`'s `align`). With no reference times, the two systems' word starts are compared with each other: the
median |start difference| over the words both placed (matched in order, `soundwave.eval.timing.match_words`).
Each timing is the median of --repeats runs.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

import numpy as np

from soundwave.audio import load_audio
from soundwave.data.manifest import read_manifest
from soundwave.eval.baseline import WhisperBaseline
from soundwave.eval.run import resolve_model
from soundwave.eval.timing import match_words
from soundwave.inference.pipeline import Pipeline


def timed(function, repeats: int):
    """(the last result, median seconds) of `repeats` calls."""
    seconds, result = [], None
    for _ in range(repeats):
        started = time.perf_counter()
        result = function()
        seconds.append(time.perf_counter() - started)
    return result, statistics.median(seconds)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="data/eval/librivox.jsonl")
    parser.add_argument("--model", default="soundwave-mini")
    parser.add_argument("--whisper", default="whisper-tiny.en")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", default="runs/bench/align_cost.json")
    args = parser.parse_args()
    pipe = Pipeline.from_pretrained(args.model)
    whisper = WhisperBaseline.from_pretrained(resolve_model(args.whisper), name=args.whisper)
    rows = []
    for sample in read_manifest(args.data).samples:
        wave = load_audio(sample.audio)
        duration = wave.shape[0] / 16_000
        plain, transcribe_s = timed(lambda w=wave: pipe.transcribe(w), args.repeats)
        result, _ = timed(lambda w=wave: pipe.transcribe(w, timestamps="word"), 1)
        own_align, own_align_s = timed(lambda w=wave, t=plain.text: pipe.align(w, t), args.repeats)
        reference = sample.transcript or sample.answer
        ref_align, ref_align_s = timed(lambda w=wave, t=reference: pipe.align(w, t), args.repeats)
        heard, whisper_s = timed(lambda w=wave: whisper.align(w), args.repeats)
        matched = match_words([w.word for w in ref_align.words], [w.word for w in heard.words])
        gaps = [
            abs(w.start - heard.words[j].start) for w, j in zip(ref_align.words, matched, strict=True) if j is not None
        ]
        rows.append(
            {
                "id": sample.id,
                "seconds": round(duration, 2),
                "transcript": plain.text,
                "same_text_with_timestamps": result.text == plain.text,
                "transcribe_s": round(transcribe_s, 3),
                "align_own_s": round(own_align_s, 3),
                "align_cost": round(own_align_s / transcribe_s, 4),
                "align_reference_s": round(ref_align_s, 3),
                "whisper_words_s": round(whisper_s, 3),
                "words": len(ref_align.words),
                "whisper_matched": sum(j is not None for j in matched),
                "median_start_gap_ms": round(1000 * float(np.median(gaps)), 1) if gaps else None,
                "mean_confidence": round(float(np.mean([w.confidence for w in ref_align.words])), 3),
            }
        )
        print(json.dumps(rows[-1]))
    total = {key: round(sum(r[key] for r in rows), 3) for key in ("seconds", "transcribe_s", "align_own_s")}
    total["align_cost"] = round(total["align_own_s"] / total["transcribe_s"], 4)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(
        json.dumps({"model": args.model, "data": args.data, "rows": rows, "total": total}, indent=2)
    )
    print(json.dumps(total))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
