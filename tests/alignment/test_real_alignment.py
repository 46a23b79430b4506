"""Real weights (slow): soundwave-mini places festival's words where festival says it spoke them, over more than a
minute of audio (three encoder windows); Whisper tiny.en's own word timestamps come back in order.

    pytest -m slow tests/alignment/test_real_alignment.py
"""

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

pytestmark = pytest.mark.slow

SENTENCES = [
    "The fox is sleeping under the table.",
    "We watched a film about a sheep tonight.",
    "Don't forget to take out the trash after lunch.",
    "My sister keeps a small garden behind the house.",
]
LIBRIVOX = Path(__file__).parents[1] / "assets" / "speech" / "librivox"


@pytest.fixture(scope="module")
def festival_minute():
    """Festival sentences one after another for > 60 s, 0.3 s apart, with their word times."""
    if shutil.which("festival") is None:
        pytest.skip("festival is not installed")
    from soundwave.audio import resample
    from soundwave.synth.festival import FestivalProcess

    festival = FestivalProcess()
    try:
        clips = [
            festival.say_timed(voice, text) for voice, text in zip(("kal", "ked", "slt", "kal"), SENTENCES, strict=True)
        ]
    finally:
        festival.close()
    pieces, words, texts, at, index = [], [], [], 0.0, 0
    while at < 65:
        wave, rate, spoken = clips[index % len(clips)]
        wave = np.concatenate([resample(wave, rate), np.zeros(4800, np.float32)])
        words += [(at + start, at + end) for _, start, end in spoken]
        texts.append(SENTENCES[index % len(clips)])
        pieces.append(wave)
        at += wave.shape[0] / 16_000
        index += 1
    return np.concatenate(pieces), " ".join(texts), words


def test_soundwave_mini_word_starts_over_a_minute(festival_minute):
    from soundwave.inference.pipeline import Pipeline

    wave, text, truth = festival_minute
    alignment = Pipeline.from_pretrained("soundwave-mini").align(wave, text)
    assert len(alignment.words) == len(truth) == len(text.split())
    errors = np.abs([w.start - start for w, (start, _) in zip(alignment.words, truth, strict=True)])
    assert np.median(errors) <= 0.06
    assert (errors <= 0.1).mean() >= 0.9
    late = [w for w, (start, _) in zip(alignment.words, truth, strict=True) if start > 60]
    assert late and all(abs(w.start - s) <= 0.2 for w, (s, _) in zip(late, truth[-len(late) :], strict=True))


def test_whisper_baseline_word_timestamps():
    from soundwave.eval.baseline import WhisperBaseline
    from soundwave.eval.run import resolve_model

    row = json.loads((LIBRIVOX / "manifest.jsonl").read_text().splitlines()[1])
    alignment = WhisperBaseline.from_pretrained(resolve_model("whisper-tiny.en")).align(str(LIBRIVOX / row["audio"]))
    assert len(alignment.words) >= len(row["transcript"].split()) - 2
    starts = [w.start for w in alignment.words]
    assert starts == sorted(starts) and alignment.words[-1].end <= alignment.duration
    assert all(w.confidence is None for w in alignment.words)
