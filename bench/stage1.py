"""Stage-1 (alignment) cost, mini geometry: paper vs released mode, and with vs without cached encoder outputs.

    python bench/stage1.py --clips 16 --seconds 4 --repeats 3

One step = adapter + CTC forward and backward for a batch (the encoder is frozen). "Without cache" adds the frozen
Whisper encoder's forward to every step; "with cache" reuses its outputs, as `training.cache_encoder_outputs` does
after the first epoch.
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
import torch

from soundwave.inference.loader import processor_for
from soundwave.model.builder import build_model


def step_seconds(model, frames, lengths, targets, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        out = model(encoder_frames=(frames, lengths), asr_targets=targets)
        out.loss.backward()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clips", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=4.0)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--modes", default="paper,released")
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    waves = [rng.normal(0, 0.1, int(16000 * args.seconds)).astype(np.float32) for _ in range(args.clips)]
    targets = torch.randint(0, 49000, (args.clips, 12))
    print("| mode | encoder (s) | adapter + CTC step (s) | samples/s without cache | samples/s with cache |")
    print("|---|---|---|---|---|")
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
        step = step_seconds(model, frames, lengths, targets, args.repeats)
        enc = statistics.median(encode)
        n = args.clips
        print(f"| {mode} | {enc:.2f} | {step:.2f} | {n / (enc + step):.2f} | {n / step:.2f} |")


if __name__ == "__main__":
    main()
