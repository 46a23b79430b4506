"""Log-mel features of a batch, whole 30 s windows (the release) against up to the longest clip (paper models):

    python bench/mel_features.py [--clips 32] [--seconds 4] [--repeats 7]

Prints the median time of each, their ratio, and the largest difference on the valid frames (0: same values).
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import numpy as np
from transformers import AutoTokenizer, WhisperFeatureExtractor

from soundwave.inference.processor import SpeechProcessor

MINI = Path(__file__).parents[1] / "soundwave" / "assets" / "soundwave-mini"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clips", type=int, default=32)
    parser.add_argument("--seconds", type=float, default=4.0)
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    tokenizer, extractor = AutoTokenizer.from_pretrained(str(MINI)), WhisperFeatureExtractor.from_pretrained(str(MINI))
    rng = np.random.default_rng(0)
    waves = [rng.standard_normal(int(args.seconds * 16000)).astype(np.float32) * 0.1 for _ in range(args.clips)]
    times, batches = {}, {}
    for name, full in (("whole window", True), ("longest clip", False)):
        processor = SpeechProcessor(tokenizer, extractor, pad_to_window=full)
        runs = []
        for _ in range(args.repeats):
            start = time.perf_counter()
            batches[name] = processor.audio_batch(waves)
            runs.append(time.perf_counter() - start)
        times[name] = statistics.median(runs)
        print(f"{name}: median {times[name]:.3f} s, features {tuple(batches[name].audios.shape)}")
    n = int(batches["longest clip"].audio_lengths.max())
    diff = (batches["whole window"].audios[..., :n] - batches["longest clip"].audios[..., :n]).abs().max()
    print(f"ratio {times['longest clip'] / times['whole window']:.3f}, largest difference on valid frames {diff:.2e}")


if __name__ == "__main__":
    main()
