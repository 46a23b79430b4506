"""CTC-draft speculative decoding against plain greedy decoding, side by side in one run.

    python bench/speculative.py [--model soundwave-mini] [--clips 8] [--out runs/bench/speculative.json]

Clips: unseen sentences synthesized here (espeak-ng and flite voices, offline) and the real LibriVox recordings
when Debian's pocketsphinx-testdata is installed. For each decoding (the LLM alone, greedy; the model's joint CTC
scoring, greedy, no word repair) and each prompt kind (transcription, a question about the clip), every clip is
decoded with `draft=none` and `draft=ctc` alternately; the table gives median wall time per clip, output tokens
per LLM forward pass, whether the texts are identical, and tokens/s at batch 1, 8 and 16.
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

SENTENCES = [
    "The lighthouse keeper counted the ships that passed before dawn.",
    "Her brother planted tomatoes along the southern wall of the garden.",
    "We will meet at the station when the evening train arrives.",
    "A sudden storm scattered the papers across the empty courtyard.",
    "The committee postponed its decision until the report was finished.",
    "Please remember to close the windows before you leave the house.",
    "The old bridge was repaired with stones from the nearby quarry.",
    "Nobody expected the quiet student to win the chess tournament.",
]
LIBRIVOX = Path("/usr/share/pocketsphinx/test/data/librivox")
LLM_ALONE = {"greedy": True, "num_beams": 1, "ctc_weight": 0.0, "spelling_weight": 0.0, "word_repair": 0.0,
             "word_repair_speech": 0.0}  # fmt: skip
JOINT = {"greedy": True, "num_beams": 1, "word_repair": 0.0, "word_repair_speech": 0.0}  # the model's CTC weights
QUESTION = "What is the speaker talking about? Answer in one sentence."


def make_clips(folder: Path, count: int) -> list[str]:
    clips = []
    for i, text in enumerate(SENTENCES[:count]):
        path = folder / f"synth-{i}.wav"
        if i % 2:
            subprocess.run(["flite", "-voice", "slt", "-t", text, "-o", str(path)], check=True)
        else:
            subprocess.run(["espeak-ng", "-v", "en-us", "-s", "150", "-w", str(path), text], check=True)
        clips.append(str(path))
    if LIBRIVOX.is_dir():
        clips += [str(p) for p in sorted(LIBRIVOX.glob("*.wav"))]
    return clips


def run(pipe, clips: list[str], kind: str, options: dict, draft: str, batch: int = 1) -> tuple[list, float]:
    started = time.perf_counter()
    if kind == "transcribe":
        results = pipe.transcribe_batch(clips, batch_size=batch, draft=draft, **options)
    else:
        results = pipe.generate_batch([{"audio": c, "prompt": QUESTION} for c in clips], batch, draft=draft, **options)
    return results, time.perf_counter() - started


def compare(pipe, clips: list[str], kind: str, options: dict) -> dict:
    plain_s, fast_s, same, tokens, passes, plain_passes = [], [], 0, 0, 0, 0
    for clip in clips:
        (plain,), t_plain = run(pipe, [clip], kind, options, "none")
        (fast,), t_fast = run(pipe, [clip], kind, options, "ctc")
        plain_s.append(t_plain)
        fast_s.append(t_fast)
        same += plain.text == fast.text
        tokens += fast.output_tokens
        passes += fast.llm_forward_passes
        plain_passes += plain.llm_forward_passes
    return {
        "median_plain_s": round(statistics.median(plain_s), 2),
        "median_ctc_draft_s": round(statistics.median(fast_s), 2),
        "speedup": round(sum(plain_s) / sum(fast_s), 2),
        "tokens_per_pass": round(tokens / passes, 2),
        "tokens_per_pass_plain": round(tokens / plain_passes, 2),
        "identical": f"{same}/{len(clips)}",
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="soundwave-mini")
    parser.add_argument("--clips", type=int, default=8, help="synthesized sentences (LibriVox's 5 come on top)")
    parser.add_argument("--batches", default="1,8,16")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    from soundwave.inference.pipeline import Pipeline

    pipe = Pipeline.from_pretrained(args.model)
    rows = []
    with tempfile.TemporaryDirectory() as scratch:
        clips = make_clips(Path(scratch), args.clips)
        pipe.transcribe(clips[0], **LLM_ALONE)  # warm up
        for decoding, options in (("LLM alone", LLM_ALONE), ("joint CTC", JOINT)):
            for kind in ("transcribe", "question"):
                if decoding == "joint CTC" and kind == "question":
                    continue  # CTC scoring is for transcripts only
                row = {"decoding": decoding, "prompt": kind, "clips": len(clips)} | compare(pipe, clips, kind, options)
                rows.append(row)
                print(json.dumps(row), flush=True)
        for batch in [int(b) for b in args.batches.split(",")]:
            for draft in ("none", "ctc"):
                results, seconds = run(pipe, clips, "transcribe", LLM_ALONE, draft, batch)
                tokens = sum(r.output_tokens for r in results)
                row = {"decoding": "LLM alone", "prompt": "transcribe", "batch": batch, "draft": draft,
                       "tokens_per_s": round(tokens / seconds, 2), "seconds": round(seconds, 2)}  # fmt: skip
                rows.append(row)
                print(json.dumps(row), flush=True)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(rows, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
