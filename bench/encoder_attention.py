"""Whisper encoder attention on the CPU: eager against sdpa (fused), one window at a time and 8 at once.

    python bench/encoder_attention.py [--model tests/assets/soundwave-reference/checkpoint] [--repeats 5]

Random log-mel of full 30 s windows (the released format encodes whole windows); medians side by side in one process;
the largest difference between the two implementations' frames.
"""

from __future__ import annotations

import argparse
import statistics
import timeit

import torch

from soundwave.inference.pipeline import Pipeline


def median_seconds(fn, repeats: int) -> float:
    fn()  # warm-up
    return statistics.median(timeit.repeat(fn, number=1, repeat=repeats))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="tests/assets/soundwave-reference/checkpoint")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    encoder = Pipeline.from_pretrained(args.model).model.audio_encoder
    config = encoder.whisper.config
    mel = torch.randn(8, config.num_mel_bins, encoder.window_mel_frames, generator=torch.Generator().manual_seed(0))
    frames = {}
    with torch.inference_mode():
        for attention in ("eager", "sdpa"):
            config._attn_implementation = attention
            frames[attention] = encoder.encode_window(mel)
            for label, fn in (
                ("8 windows at once", lambda: encoder.encode_window(mel)),
                ("8 windows one by one", lambda: [encoder.encode_window(mel[i : i + 1]) for i in range(8)]),
            ):
                print(f"{attention:5s} {label:22s} {median_seconds(fn, args.repeats):.3f} s")
    print(f"largest difference sdpa - eager: {(frames['sdpa'] - frames['eager']).abs().max().item():.2e}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
