"""Joint CTC / LLM decoding: time and WER of the LLM alone vs decoding with CTC, side by side in one process.

    python bench/joint_decoding.py --model soundwave-mini --data data/eval/synth_heldout_asr.jsonl --limit 48 \
        --repeats 2 --out bench/results/joint-decoding.json

Each setting decodes the same clips in batches of `--batch-size`, greedy, at most 48 new tokens; seconds are
medians over `--repeats`, WER (Whisper-normalized) from the last run.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

from soundwave.atomic import write_text
from soundwave.audio import SAMPLE_RATE, load_audio
from soundwave.data.manifest import read_manifest
from soundwave.eval.metrics import wer
from soundwave.eval.normalize import normalize_text
from soundwave.inference.pipeline import Pipeline

SETTINGS = {
    "LLM alone": {},
    "joint, ctc_weight 0.5": {"ctc_weight": 0.5},
    "joint, ctc_weight 0.5, 4 beams": {"ctc_weight": 0.5, "num_beams": 4},
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="soundwave-mini")
    parser.add_argument("--data", type=Path, default=Path("data/eval/synth_heldout_asr.jsonl"))
    parser.add_argument("--limit", type=int, default=48)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--out", type=Path, help="also write the results here (JSON)")
    args = parser.parse_args()
    pipe = Pipeline.from_pretrained(args.model)
    samples = [s for s in read_manifest(args.data).samples if s.audio and s.transcript][: args.limit]
    items = [{"audio": load_audio(s.audio), "prompt": s.prompt or "What does the person say?"} for s in samples]
    audio_seconds = sum(len(i["audio"]) for i in items) / SAMPLE_RATE
    references = [normalize_text(s.transcript) for s in samples]
    rows = []
    for name, options in SETTINGS.items():
        times = []
        for _ in range(args.repeats):
            start = time.perf_counter()
            results = pipe.generate_batch(items, batch_size=args.batch_size, greedy=True, max_new_tokens=48, **options)
            times.append(time.perf_counter() - start)
        seconds = statistics.median(times)
        score = wer(references, [normalize_text(r.text) for r in results])
        rows.append({"setting": name, "seconds": seconds, "rtfx": audio_seconds / seconds, "wer": score})
    base = rows[0]["seconds"]
    print(f"{len(items)} clips, {audio_seconds:.0f} s of audio, batch {args.batch_size}, {args.repeats} repeats")
    print("| setting | seconds (median) | x real time | time vs LLM alone | WER |\n|---|---|---|---|---|")
    for row in rows:
        print(
            f"| {row['setting']} | {row['seconds']:.1f} | {row['rtfx']:.1f} | {row['seconds'] / base:.2f}x "
            f"| {100 * row['wer']:.1f} % |"
        )
    if args.out:
        write_text(args.out, json.dumps({"clips": len(items), "audio_seconds": audio_seconds, "rows": rows}))


if __name__ == "__main__":
    main()
