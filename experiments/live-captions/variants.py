"""Caption variants tried for #37's WER gap (all dropped): WER of the final captions against the LibriVox reference.

    python experiments/live-captions/variants.py --seconds 60 base guard=0.2 guard=0.4 ens=0 ens=1.0 prob=0

- base: the library's stream (`Pipeline.listen()` defaults);
- guard=S: a word may settle on agreement only once S seconds of audio follow it in the window (right context);
- ens=S: each frame's CTC log-probabilities averaged over every window that heard it (frames within S seconds of a
  window's end weighted down, 0: equal weights), captions from the averaged greedy path;
- prob=S: the same with probabilities.

Measured (60 s, 172 words; offline greedy transcription 30.8 %): base 36.6 %, guard 0.2 / 0.4 36.6 % (no change),
ens=0 38.9 %, ens=1.0 37.2 %, prob=0 38.4 %. Variants patch `soundwave.inference.live` in this process only; once
an averaging variant is on it stays on, so list them after the others.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import math
from pathlib import Path

import numpy as np
import torch

import soundwave.inference.live as live
from soundwave.inference.pipeline import Pipeline

BENCH = Path(__file__).parents[2] / "bench" / "live.py"
spec = importlib.util.spec_from_file_location("live_bench", BENCH)
bench = importlib.util.module_from_spec(spec)
spec.loader.exec_module(bench)
PLAIN_AGREED = live.agreed


def guarded(guard: float, settle: float):
    """`agreed`, but a word followed by another settles only when `guard` seconds of the window follow it."""

    def agreed(current, before, settled_by):
        if before is None:
            return []
        end_time, words = settled_by + settle, []
        for index, (mine, theirs) in enumerate(zip(current, before, strict=False)):
            complete = (index + 1 < len(current) and mine.last <= end_time - guard) or mine.last <= settled_by
            if mine.ids != theirs.ids or not complete:
                break
            words.append(mine)
        return words

    return agreed


def averaging_encode(log_space: bool, edge: float):
    """`LiveStream._encode` with each frame's CTC scores averaged over the windows that heard it."""

    def _encode(self, end):
        wave = self._audio[: end - self._start]
        encoding = self.pipe.encode(wave)
        frames = min(int(encoding.ctc_lengths[0]), math.ceil(wave.shape[0] / live.FRAME_SAMPLES))
        first = self._start // live.FRAME_SAMPLES
        logits = encoding.ctc_logits[0, :frames].float()  # (T, V)
        scores = logits.log_softmax(-1) if log_space else logits.softmax(-1)
        start, sums, counts = getattr(self, "_averaged", (first, torch.zeros(0, scores.shape[1]), torch.zeros(0)))
        sums, counts = sums[first - start :], counts[first - start :]  # frames before the window: gone
        if frames > sums.shape[0]:
            grow = frames - sums.shape[0]
            sums, counts = torch.cat([sums, torch.zeros(grow, sums.shape[1])]), torch.cat([counts, torch.zeros(grow)])
        right = (frames - 1 - torch.arange(frames)) * live.FRAME_SAMPLES / live.SAMPLE_RATE  # seconds after each frame
        weight = (right / edge).clamp(0.05, 1.0) if edge > 0 else torch.ones(frames)
        sums[:frames] += weight[:, None] * scores
        counts[:frames] += weight
        self._averaged = (first, sums, counts)
        best = (sums[:frames] / counts[:frames, None]).argmax(-1).numpy()  # (T,)
        times = (self._start + np.arange(frames) * live.FRAME_SAMPLES) / live.SAMPLE_RATE
        kept = np.flatnonzero(encoding.keep[0, :frames].cpu().numpy())
        tokens = live.emitted_tokens(best, self._blank)
        ids = np.array([token for token, _, _ in tokens], dtype=np.int64)
        id_times = np.array([times[f] for _, f, _ in tokens], dtype=np.float64)
        words = live.greedy_words(best, times, self._blank, self._texts)
        vectors = encoding.embeds[0, : len(kept)].clone()
        return live._Window(words, vectors, times[kept], ids, id_times, self._start, None, 0)  # greedy finals

    return _encode


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("variants", nargs="+")
    args = parser.parse_args()
    pipe = Pipeline.from_pretrained("soundwave-mini")
    wave, used = bench.recording(args.seconds)
    samples = bench.read_manifest(bench.CLIPS).samples
    reference = " ".join(samples[index].transcript for index, _ in used)
    for variant in args.variants:
        kind, _, value = variant.partition("=")
        live.agreed = guarded(float(value), live.SETTLE_SECONDS) if kind == "guard" else PLAIN_AGREED
        if kind in ("ens", "prob"):
            live.LiveStream._encode = averaging_encode(kind == "ens", float(value))
        out = bench.stream(pipe, wave, {})
        finals = " ".join(event.text for event, _ in out["events"] if event.type == "final")
        print(json.dumps({"variant": variant, "wer": bench.score(reference, finals)}), flush=True)


if __name__ == "__main__":
    main()
