"""Live captions (`Pipeline.listen`): speed, delay, accuracy against offline decoding, and memory over a long stream.

    python bench/live.py [--model soundwave-mini] [--seconds 600] [--out runs/bench/live.json]

The five LibriVox clips (tests/assets/speech/librivox, real read speech) are laid end to end, 0.3 s apart, over and
over (whole clips) until at least --seconds of audio, and fed to one live stream in 200 ms pieces as fast as the
model goes. Measured:

- real-time factor: compute seconds / audio seconds (< 1: it keeps up with a speaker);
- delay from the end of each word to its final caption, and to the first caption that shows it (partial or final),
  as it would be played in real time: each piece is handled once it has been heard and the one before is done.
  A word's end is where the model's own CTC places it offline: `Pipeline.align` of the streamed transcript over the
  whole recording (soundwave.alignment, docs/timestamps.md);
- WER of the streamed final transcript against the offline greedy transcript (`soundwave transcribe --num-beams 1`,
  each clip transcribed whole) and against the same CTC head's greedy transcript of each whole clip (what streaming
  alone costs), and all three against the LibriVox reference (Whisper's English normalizer);
- the process's RSS every 10 s of audio (flat: the stream keeps bounded state), the raw audio and vectors it holds.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import time
from pathlib import Path

import numpy as np
import psutil
import torch

from soundwave.alignment.greedy import TokenTexts, greedy_words
from soundwave.alignment.timeline import FRAME_SAMPLES, FRAME_SECONDS
from soundwave.audio import SAMPLE_RATE, load_audio
from soundwave.data.manifest import read_manifest
from soundwave.eval.metrics import wer
from soundwave.eval.normalize import normalize_text
from soundwave.inference.pipeline import Pipeline

CLIPS = Path(__file__).parents[1] / "tests" / "assets" / "speech" / "librivox" / "manifest.jsonl"
PIECE = SAMPLE_RATE // 5  # 200 ms
GAP = np.zeros(int(0.3 * SAMPLE_RATE), np.float32)
RSS_EVERY = 10 * SAMPLE_RATE


def recording(seconds: float) -> tuple[np.ndarray, list[tuple[int, int]]]:
    """Whole clips end to end until at least `seconds` (so every reference transcript is whole); and which clip
    (index, samples) each stretch is."""
    samples = read_manifest(CLIPS).samples
    waves = [np.concatenate([load_audio(sample.audio), GAP]) for sample in samples]
    total, parts, used = int(seconds * SAMPLE_RATE), [], []
    while sum(p.shape[0] for p in parts) < total:
        index = len(parts) % len(waves)
        parts.append(waves[index])
        used.append((index, parts[-1].shape[0]))
    return np.concatenate(parts), used


def stream(pipe: Pipeline, wave: np.ndarray, options: dict) -> dict:
    """Feed `wave` to one live stream; every event with when it would be ready if played in real time."""
    process = psutil.Process()
    stream = pipe.listen(**options)
    events, compute, ready, memory = [], 0.0, 0.0, []
    for at in range(0, wave.shape[0], PIECE):
        piece = wave[at : at + PIECE]
        heard = (at + piece.shape[0]) / SAMPLE_RATE
        started = time.perf_counter()
        new = stream.feed(piece)
        spent = time.perf_counter() - started
        compute += spent
        ready = max(ready, heard) + spent  # a piece waits for the one before it
        events += [(event, ready) for event in new]
        if (at + piece.shape[0]) % RSS_EVERY < PIECE:
            memory.append(
                {
                    "audio_s": round(heard, 1),
                    "rss_mb": round(process.memory_info().rss / 2**20, 1),
                    "buffered_audio_s": round(stream.buffered_seconds, 2),
                    "kept_vectors": stream.kept_vectors,
                }
            )
    started = time.perf_counter()
    last = stream.finish()
    spent = time.perf_counter() - started
    compute += spent
    events += [(event, max(ready, wave.shape[0] / SAMPLE_RATE) + spent) for event in last]
    return {"events": events, "compute_s": compute, "memory": memory}


def plain(word: str) -> str:
    return re.sub(r"[^\w']", "", word.lower())


def delays(pipe: Pipeline, wave: np.ndarray, events: list) -> dict:
    """Median seconds from each word's end (offline CTC alignment) to its final caption and to its first showing."""
    finals = [(event, ready) for event, ready in events if event.type == "final"]
    words = [(word, ready) for event, ready in finals for word in event.text.split()]
    aligned = pipe.align(wave, " ".join(word for word, _ in words)).words
    to_final, to_first = [], []
    for (word, final_at), placed in zip(words, aligned, strict=True):
        to_final.append(final_at - placed.end)
        shown = next(
            (
                ready
                for event, ready in events
                if event.start <= placed.end + 0.5
                and event.end >= placed.start - 0.5
                and plain(word) in {plain(w) for w in event.text.split()}
            ),
            final_at,
        )
        to_first.append(min(shown, final_at) - placed.end)
    return {
        "words": len(words),
        "final_delay_median_s": round(statistics.median(to_final), 3) if to_final else None,
        "final_delay_p90_s": round(float(np.percentile(to_final, 90)), 3) if to_final else None,
        "first_shown_delay_median_s": round(statistics.median(to_first), 3) if to_first else None,
        "first_shown_delay_p90_s": round(float(np.percentile(to_first, 90)), 3) if to_first else None,
    }


def offline(pipe: Pipeline, wave: np.ndarray, used: list[tuple[int, int]]) -> tuple[str, str, str]:
    """Each clip (or the part of it used) decoded whole: the greedy transcript, the CTC head's greedy words; and the
    reference."""
    samples = read_manifest(CLIPS).samples
    texts: dict[tuple[int, int], tuple[str, str]] = {}
    greedy, heard, references, at = [], [], [], 0
    for index, length in used:
        if (index, length) not in texts:
            clip = wave[at : at + length]
            texts[(index, length)] = (pipe.transcribe(clip, num_beams=1).text, ctc_text(pipe, clip))
        greedy.append(texts[(index, length)][0])
        heard.append(texts[(index, length)][1])
        references.append(samples[index].transcript or "")
        at += length
    return " ".join(greedy), " ".join(heard), " ".join(references)


def ctc_text(pipe: Pipeline, clip: np.ndarray) -> str:
    """The CTC head's greedy words of a whole clip (one encode), as the live stream makes its captions."""
    encoding = pipe.encode(clip)
    frames = min(int(encoding.ctc_lengths[0]), -(-clip.shape[0] // FRAME_SAMPLES))
    best = encoding.tokens[0, :frames].cpu().numpy()  # (T,) argmax per frame
    words = greedy_words(best, np.arange(frames) * FRAME_SECONDS, pipe.model.blank_id, TokenTexts(pipe.tokenizer))
    return "".join(word.text for word in words).strip()


def score(reference: str, hypothesis: str) -> float:
    return round(wer([normalize_text(reference)], [normalize_text(hypothesis)]), 4)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="soundwave-mini")
    parser.add_argument("--seconds", type=float, default=600.0, help="audio streamed (default 10 minutes)")
    parser.add_argument("--out", default="runs/bench/live.json")
    parser.add_argument("--step", type=float, help="the stream's step_seconds (default: the library's)")
    parser.add_argument("--window", type=float, help="its window_seconds")
    parser.add_argument("--context", type=float, help="its context_seconds")
    parser.add_argument("--beam", type=int, help="its beam (1: the finals are the greedy words)")
    parser.add_argument(
        "--full-ctc", action="store_true", help="project every frame of each window onto the vocabulary, settled or not"
    )
    args = parser.parse_args()
    names = {"step": "step_seconds", "window": "window_seconds", "context": "context_seconds", "beam": "beam"}
    options = {names[k]: v for k, v in vars(args).items() if k in names and v is not None}
    pipe = Pipeline.from_pretrained(args.model)
    if args.full_ctc:
        pipe.model.skip_ctc_before = lambda frame: 0
    wave, used = recording(args.seconds)
    pipe.listen().feed(wave[: 2 * SAMPLE_RATE])  # warm-up: the first encode allocates
    ran = stream(pipe, wave, options)
    streamed = " ".join(event.text for event, _ in ran["events"] if event.type == "final")
    started = time.perf_counter()
    timing = delays(pipe, wave, ran["events"])
    timing["align_s"] = round(time.perf_counter() - started, 2)
    greedy, ctc, reference = offline(pipe, wave, used)
    audio_s = wave.shape[0] / SAMPLE_RATE
    rss = [m["rss_mb"] for m in ran["memory"]]
    report = {
        "model": args.model,
        "audio_s": round(audio_s, 1),
        "compute_s": round(ran["compute_s"], 2),
        "real_time_factor": round(ran["compute_s"] / audio_s, 3),
        **timing,
        "options": options | ({"full_ctc": True} if args.full_ctc else {}),
        "wer_streamed_vs_offline_greedy": score(greedy, streamed),
        "wer_streamed_vs_offline_ctc": score(ctc, streamed),
        "wer_vs_reference_streamed_offline_ctc_offline_greedy": [score(reference, t) for t in (streamed, ctc, greedy)],
        "rss_mb_first_last_max": [rss[0], rss[-1], max(rss)] if rss else None,
        "memory": ran["memory"],
        "cpus": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "streamed_head": streamed[:300],
        "offline_head": greedy[:300],
    }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps({k: v for k, v in report.items() if k != "memory"}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
