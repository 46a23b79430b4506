"""A SpeechLLM's Whisper encoder on a batch, features of whole 30 s windows against features up to the longest clip:

    python bench/speechllm_encoder.py [--clips 8] [--seconds 2.6] [--repeats 5]

The encoder reads only each clip's valid frames (`SpeechEncoder`), so both give the same vectors; SpeechLLM models
now get the short features (`pads_to_window` is False). Prints the median encoder time of each, their ratio and the
largest difference on the valid frames.
"""

from __future__ import annotations

import argparse
import statistics
import timeit

import numpy as np
import torch
from transformers import WhisperFeatureExtractor

from soundwave.hub.prepare import resolve_model_path
from soundwave.model.speech_encoder import load_speech_encoder
from soundwave.processor import SpeechProcessor


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--encoder", default="whisper-tiny.en", help="a prepared model name or a local folder")
    parser.add_argument("--clips", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=2.6, help="clip length (the synthetic corpus: ~2.6 s)")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    encoder = load_speech_encoder(resolve_model_path(args.encoder)).eval()
    rng = np.random.default_rng(0)
    waves = [rng.standard_normal(int(16000 * args.seconds)).astype(np.float32) * 0.1 for _ in range(args.clips)]
    timed = {}
    for whole in (True, False):
        batch = SpeechProcessor(None, WhisperFeatureExtractor(), pad_to_window=whole).audio_batch(waves)
        with torch.no_grad():
            frames, lengths = encoder(batch.audios, batch.audio_lengths)
            times = timeit.repeat(lambda b=batch: encoder(b.audios, b.audio_lengths), number=1, repeat=args.repeats)
        timed[whole] = (statistics.median(times), frames, int(lengths[0]))
        label = "whole 30 s windows" if whole else "up to the longest clip"
        print(f"{label}: mel {tuple(batch.audios.shape)}, encoder median {timed[whole][0]:.3f} s")
    n = timed[False][2]
    difference = (timed[True][1][:, :n] - timed[False][1][:, :n]).abs().max().item()
    print(f"ratio {timed[False][0] / timed[True][0]:.3f}; largest difference on valid frames {difference:.2g}")


if __name__ == "__main__":
    main()
