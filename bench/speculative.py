"""CTC-draft speculative decoding against plain greedy decoding, side by side in one run.

    python bench/speculative.py [--model soundwave-mini] [--clips 8] [--compile] [--parts decoding,batches]
                                [--out runs/bench/speculative.json]

Clips: unseen sentences synthesized here (espeak-ng and flite voices, offline) and the real LibriVox recordings
when Debian's pocketsphinx-testdata is installed. For each decoding (the LLM alone, greedy; the model's joint CTC
scoring, greedy, no word repair) and each prompt kind (transcription, a question about the clip), every clip is
decoded with `draft=none` and `draft=ctc` alternately, and for the LLM alone also by the release-style loop (the
release's `run_inference.py`: one `model.generate` call per clip on the processor's batch, no Pipeline) and, with
`--compile`, by a second Pipeline with the compiled decode step (static KV cache; compiled on an untimed first pass
over the clips); the table gives median wall time per clip, output tokens per LLM forward pass, whether the texts
are identical, and tokens/s at batch 1, 8 and 16 (batches by length, as `generate_batch` forms them, and cut in
input order).
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


def release_loop(pipe, clip: str, kind: str, options: dict) -> tuple[str, float]:
    """The release's way: the processor's batch of one, `model.generate`, the new ids decoded (no Pipeline)."""
    import torch

    from soundwave.audio import load_audio
    from soundwave.prompts import TRANSCRIBE_PROMPT, Turn

    config = (pipe.transcription if kind == "transcribe" else pipe.generation).with_overrides(**options)
    started = time.perf_counter()
    prompt = TRANSCRIBE_PROMPT if kind == "transcribe" else QUESTION
    batch = pipe.processor([load_audio(clip)], [[Turn("user", prompt, audio=True)]])
    with torch.inference_mode():
        output = pipe.model.generate(**batch, **config.to_generate_kwargs(pipe.eos_token_id))
    text = pipe.tokenizer.decode(output[0, batch["input_ids"].shape[1] :], skip_special_tokens=True).strip()
    return text, time.perf_counter() - started


def compare(pipe, clips: list[str], kind: str, options: dict, compiled=None) -> dict:
    """Each clip by every decoding in turn (`compiled`: a Pipeline with the compiled decode step, LLM alone only)."""
    seconds = {"plain": [], "ctc_draft": [], "release_loop": [], "compiled": []}
    same = {"ctc_draft": 0, "release_loop": 0, "compiled": 0}
    tokens, passes, plain_passes = 0, 0, 0
    llm_alone = options is LLM_ALONE
    for clip in clips:
        (plain,), t_plain = run(pipe, [clip], kind, options, "none")
        (fast,), t_fast = run(pipe, [clip], kind, options, "ctc")
        seconds["plain"].append(t_plain)
        seconds["ctc_draft"].append(t_fast)
        same["ctc_draft"] += plain.text == fast.text
        tokens += fast.output_tokens
        passes += fast.llm_forward_passes
        plain_passes += plain.llm_forward_passes
        if llm_alone:  # the release's loop has no joint scoring
            text, t_release = release_loop(pipe, clip, kind, options)
            seconds["release_loop"].append(t_release)
            same["release_loop"] += text == plain.text
        if llm_alone and compiled is not None:
            (quick,), t_compiled = run(compiled, [clip], kind, options, "none")
            seconds["compiled"].append(t_compiled)
            same["compiled"] += quick.text == plain.text
    row = {
        "median_plain_s": round(statistics.median(seconds["plain"]), 2),
        "median_ctc_draft_s": round(statistics.median(seconds["ctc_draft"]), 2),
        "speedup": round(sum(seconds["plain"]) / sum(seconds["ctc_draft"]), 2),
        "tokens_per_pass": round(tokens / passes, 2),
        "tokens_per_pass_plain": round(tokens / plain_passes, 2),
        "identical": f"{same['ctc_draft']}/{len(clips)}",
    }
    for name in ("release_loop", "compiled"):
        if seconds[name]:
            row |= {
                f"median_{name}_s": round(statistics.median(seconds[name]), 2),
                f"{name}_speedup": round(sum(seconds["plain"]) / sum(seconds[name]), 2),  # > 1: faster than plain
                f"{name}_identical": f"{same[name]}/{len(clips)}",
            }
    return row


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="soundwave-mini")
    parser.add_argument("--clips", type=int, default=8, help="synthesized sentences (LibriVox's 5 come on top)")
    parser.add_argument("--batches", default="1,8,16")
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument("--compile", action="store_true", help="also the compiled decode step (LLM alone, batch 1)")
    parser.add_argument("--parts", default="decoding,batches", help="what to time: decoding (per clip), batches")
    args = parser.parse_args()
    from soundwave.inference.pipeline import Pipeline

    pipe = Pipeline.from_pretrained(args.model)
    compiled = Pipeline.from_pretrained(args.model, compile=True) if args.compile else None
    rows = []
    with tempfile.TemporaryDirectory() as scratch:
        clips = make_clips(Path(scratch), args.clips)
        pipe.transcribe(clips[0], **LLM_ALONE)  # warm up
        if compiled is not None:  # compile (the static cache grows to the longest prompt: later calls reuse it)
            started = time.perf_counter()
            for kind in ("transcribe", "question"):
                run(compiled, clips, kind, LLM_ALONE, "none")
            rows.append({"compile_and_first_pass_s": round(time.perf_counter() - started, 1)})
            print(json.dumps(rows[-1]), flush=True)
        parts = args.parts.split(",")
        for decoding, options in (("LLM alone", LLM_ALONE), ("joint CTC", JOINT)) if "decoding" in parts else ():
            for kind in ("transcribe", "question"):
                if decoding == "joint CTC" and kind == "question":
                    continue  # CTC scoring is for transcripts only
                row = {"decoding": decoding, "prompt": kind, "clips": len(clips)}
                row |= compare(pipe, clips, kind, options, compiled)
                rows.append(row)
                print(json.dumps(row), flush=True)
        single = None
        for batch in [int(b) for b in args.batches.split(",")] if "batches" in parts else ():
            for draft in ("none", "ctc", "input order"):
                if draft == "input order":  # batches cut in the clips' order (one call each), not by length
                    if batch == 1:
                        continue
                    parts = [run(pipe, clips[i : i + batch], "transcribe", LLM_ALONE, "none", batch)
                             for i in range(0, len(clips), batch)]  # fmt: skip
                    results, seconds = [r for part, _ in parts for r in part], sum(t for _, t in parts)
                else:
                    results, seconds = run(pipe, clips, "transcribe", LLM_ALONE, draft, batch)
                if batch == 1 and draft == "none":
                    single = results
                tokens = sum(r.output_tokens for r in results)
                row = {"decoding": "LLM alone", "prompt": "transcribe", "batch": batch, "draft": draft,
                       "tokens_per_s": round(tokens / seconds, 2), "seconds": round(seconds, 2)}  # fmt: skip
                if single is not None:  # float rounding differs with the batch's shapes: near-ties may flip
                    same = sum(a.text == b.text for a, b in zip(single, results, strict=True))
                    row["same_text_as_batch_1"] = f"{same}/{len(clips)}"
                rows.append(row)
                print(json.dumps(row), flush=True)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(rows, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
