"""Greedy-CTC WER of a Soundwave model's alignment adapter on a manifest: what stage 1 learned, without the LLM.

    python experiments/mini/bench/ctc_wer.py runs/mini/stage1e/final data/eval/synth_heldout_asr.jsonl \\
        [more.jsonl] [--group-by voice]

Every clip of each manifest is scored (training's validation scores only a few length-sorted batches), with the
same Whisper normalizer as `soundwave eval`. Prints one line per manifest: clips, WER, CTC peaks per second, and for
a model with a spelling head (`model.spelling_head`) the greedy WER of its character CTC too.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import torch
from tqdm import tqdm

from soundwave.audio import SAMPLE_RATE, load_audio
from soundwave.data.manifest import read_manifest
from soundwave.eval.metrics import wer
from soundwave.eval.normalize import normalize_text
from soundwave.inference.pipeline import Pipeline


@torch.inference_mode()
def ctc_transcripts(pipe: Pipeline, waves: list, batch_size: int = 16) -> tuple[list[str], int]:
    """Greedy CTC decodes of `waves` (16 kHz arrays) and the number of non-blank peaks in all of them."""
    model, processor = pipe.model, pipe.processor
    texts, peaks = [], 0
    for start in tqdm(range(0, len(waves), batch_size), desc="ctc", unit="batch", leave=False):
        audio = processor.audio_batch(waves[start : start + batch_size])
        for ids in model.greedy_ctc_ids(audio.audios, audio.audio_lengths):
            peaks += len(ids)
            texts.append(processor.tokenizer.decode(ids, skip_special_tokens=True))
    return texts, peaks


@torch.inference_mode()
def spelling_transcripts(pipe: Pipeline, waves: list, batch_size: int = 16) -> list[str]:
    """Greedy decodes of the spelling head (character CTC) of `waves`."""
    texts = []
    for start in tqdm(range(0, len(waves), batch_size), desc="spelling", unit="batch", leave=False):
        audio = pipe.processor.audio_batch(waves[start : start + batch_size])
        texts += pipe.model.spelling_texts(audio.audios, audio.audio_lengths)
    return texts


def group_wers(samples: list, texts: list[str], field: str) -> dict[str, float]:
    """Greedy-CTC WER per value of a manifest field (samples without it are grouped under "?")."""
    pairs: dict[str, list[tuple[str, str]]] = {}
    for sample, text in zip(samples, texts, strict=True):
        value = str(sample.extra.get(field, "?"))
        pairs.setdefault(value, []).append((normalize_text(sample.transcript), normalize_text(text)))
    return {value: wer([r for r, _ in group], [h for _, h in group]) for value, group in sorted(pairs.items())}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", help="a Soundwave model folder or name (compact or released format)")
    parser.add_argument("manifests", nargs="+", type=Path)
    parser.add_argument("--json", type=Path, help="also write the results here")
    parser.add_argument("--group-by", help="also score each value of this manifest field apart (voice, speaker)")
    args = parser.parse_args()
    pipe = Pipeline.from_pretrained(args.model)
    if not hasattr(pipe.model, "greedy_ctc_ids"):
        sys.exit(f"{args.model}: not a Soundwave model (no CTC alignment adapter)")
    results = {}
    for manifest in args.manifests:
        samples = [s for s in read_manifest(manifest).samples if s.audio and s.transcript]
        if not samples:
            sys.exit(f"{manifest}: no samples with audio and a transcript")
        waves = [load_audio(s.audio) for s in samples]
        texts, peaks = ctc_transcripts(pipe, waves)
        seconds = sum(len(w) for w in waves) / SAMPLE_RATE
        score = wer([normalize_text(s.transcript) for s in samples], [normalize_text(t) for t in texts])
        results[str(manifest)] = {"clips": len(samples), "wer": score, "peaks_per_s": peaks / seconds}
        print(f"{manifest}: {len(samples)} clips, greedy-CTC WER {100 * score:.1f} %, {peaks / seconds:.1f} peaks/s")
        if args.group_by:
            results[str(manifest)]["groups"] = groups = group_wers(samples, texts, args.group_by)
            print("  " + ", ".join(f"{name} {100 * value:.1f} %" for name, value in groups.items()))
        if getattr(pipe.model, "spelling_head", None) is not None:
            spelled = spelling_transcripts(pipe, waves)
            score = wer([normalize_text(s.transcript) for s in samples], [normalize_text(t) for t in spelled])
            results[str(manifest)]["spelling_wer"] = score
            print(f"  spelling head (character CTC): greedy WER {100 * score:.1f} %")
            if args.group_by:
                groups = group_wers(samples, spelled, args.group_by)
                results[str(manifest)]["spelling_groups"] = groups
                print("  " + ", ".join(f"{name} {100 * value:.1f} %" for name, value in groups.items()))
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
