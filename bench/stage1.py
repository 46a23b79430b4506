"""Stage-1 (alignment) cost, mini geometry: paper vs released mode, cached encoder outputs, sampled CTC vocabulary.

    python bench/stage1.py --clips 16 --seconds 4 --repeats 3 --ctc-negatives 0,4096

One step = adapter + CTC forward and backward for a batch (the encoder is frozen). "Without cache" adds the frozen
Whisper encoder's forward to every step; "with cache" reuses its outputs, as `training.cache_encoder_outputs` does
after the first epoch. `--ctc-negatives N` computes the CTC loss over the batch's tokens + blank + N random ids
(`training.ctc_negatives`; 0 = the whole 49k vocabulary), measured in the same run for the paper mode.
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
import torch

from soundwave.model.builder import build_model
from soundwave.processor import processor_for
from soundwave.training.losses import alignment_ctc_loss


def step_seconds(model, frames, lengths, targets, repeats: int, negatives: int = 0) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        alignment_ctc_loss(model, frames, lengths, targets, negatives=negatives).backward()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clips", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=4.0)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--modes", default="paper,released")
    parser.add_argument("--ctc-negatives", default="0", help="comma list; the released mode uses only the first")
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    waves = [rng.normal(0, 0.1, int(16000 * args.seconds)).astype(np.float32) for _ in range(args.clips)]
    targets = torch.randint(0, 49000, (args.clips, 12))
    columns = "mode | CTC vocabulary | encoder (s) | adapter + CTC step (s) | samples/s no cache | samples/s cached"
    print(f"| {columns} |")
    print("|---|---|---|---|---|---|")
    negatives = [int(n) for n in args.ctc_negatives.split(",")]
    for mode in args.modes.split(","):
        model, tokenizer, extractor = build_model("whisper-tiny.en", "smollm2-135m-instruct", mode=mode)
        for name, param in model.named_parameters():
            param.requires_grad_(name.startswith("align_adapter.") and "ctc_head" not in name)
        batch = processor_for(model, tokenizer, extractor).audio_batch(waves)
        encode = []
        for _ in range(args.repeats):
            start = time.perf_counter()
            with torch.no_grad():
                frames, lengths = model.encode_frames(batch.audios, batch.audio_lengths)
            encode.append(time.perf_counter() - start)
        model.train()
        enc = statistics.median(encode)
        n = args.clips
        for count in negatives if mode == "paper" else negatives[:1]:
            step = step_seconds(model, frames, lengths, targets, args.repeats, count)
            vocab = f"sampled, {count} negatives" if count else "full"
            print(f"| {mode} | {vocab} | {enc:.2f} | {step:.2f} | {n / (enc + step):.2f} | {n / step:.2f} |")


if __name__ == "__main__":
    main()
