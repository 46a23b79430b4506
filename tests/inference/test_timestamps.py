"""Timestamps through the Pipeline: `align`, `transcribe(timestamps=...)`, long audio across windows.

The tiny reference model's CTC is random, so where its words land means nothing; `coded_ctc` replaces its encoder
and CTC head with a CTC that emits exactly the token a stretch of "audio" codes for, which checks the times end to
end (processor windows, joining, Viterbi, words) against where each word was put.
"""

from dataclasses import replace

import numpy as np
import pytest
import soundfile as sf
import torch

from soundwave.alignment.timeline import FRAME_SAMPLES
from soundwave.alignment.words import tokenize_words
from soundwave.errors import ConfigError, SoundwaveError

RATE = 16_000
TOKEN_FRAMES = 2  # CTC frames each coded token lasts, then one silent frame


def coded_audio(tokenizer, text: str, starts: list[float], seconds: float) -> np.ndarray:
    """Silence, but word k's tokens (a lone space token with the word after it) start at `starts[k]`, each as a
    run of TOKEN_FRAMES CTC frames at the value token_id / 1000."""
    units = tokenize_words(tokenizer, text)
    wave = np.zeros(int(seconds * RATE), dtype=np.float32)
    owners = list(units.word_of_label)
    for index, owner in enumerate(owners):  # a lone space token goes with the next word
        if owner < 0:
            owners[index] = next(o for o in owners[index:] if o >= 0)
    position: dict[int, int] = {}
    for label, owner in zip(units.labels, owners, strict=True):
        at = position.setdefault(owner, round(starts[owner] * RATE / FRAME_SAMPLES) * FRAME_SAMPLES)
        wave[at : at + TOKEN_FRAMES * FRAME_SAMPLES] = label / 1000
        position[owner] = at + (TOKEN_FRAMES + 1) * FRAME_SAMPLES
    return wave


TEXT = "one two three four five six seven eight nine ten eleven twelve"


@pytest.mark.parametrize(("overlap_seconds", "stretch"), [(0.0, None), (5.0, None), (5.0, 300)])
def test_word_times_are_continuous_across_windows(pipe, coded_ctc, monkeypatch, overlap_seconds, stretch):
    """A 75 s recording (three windows): words before, across and after the window boundaries land where they are,
    aligned in one Viterbi or (`stretch`) 12 s at a time as an hour-long recording would be."""
    import soundwave.alignment.long_form

    monkeypatch.setattr(pipe.processor, "overlap", int(overlap_seconds * RATE))
    if stretch:
        monkeypatch.setattr(soundwave.alignment.long_form, "WINDOW", stretch)
    starts = [1.0, 8.0, 15.0, 22.0, 29.6, 33.0, 44.0, 51.0, 57.6, 60.4, 66.0, 72.0]  # windows cut at 30 s, 60 s
    wave = coded_audio(pipe.tokenizer, TEXT, starts, seconds=75.0)
    alignment = pipe.align(wave, TEXT)
    assert [w.word for w in alignment.words] == TEXT.split()
    assert not any(w.interpolated for w in alignment.words)
    found = np.array([w.start for w in alignment.words])
    assert np.abs(found - np.array(starts)).max() <= 0.1, found  # a frame and the head's calibrated lead
    assert all(w.confidence > 0.9 for w in alignment.words)
    assert alignment.duration == pytest.approx(75.0)


def test_words_the_ctc_cannot_place_are_interpolated(pipe, coded_ctc, monkeypatch):
    """A word whose tokens lie outside the CTC head's vocabulary (LLM-only ids) is interpolated, not dropped."""
    import soundwave.alignment.aligner as aligner

    text = "one two eight"  # no token of "two" in "eight": its codes in the audio cannot pass for "eight"
    wave = coded_audio(pipe.tokenizer, text, [1.0, 2.0, 3.0], seconds=4.0)
    vocab, real = pipe.model.config.vocab_size, aligner.tokenize_words

    def llm_only_two(tokenizer, text):
        units = real(tokenizer, text)
        owners = units.word_of_label
        return replace(
            units, labels=tuple(vocab + 5 if o == 1 else t for t, o in zip(units.labels, owners, strict=True))
        )

    monkeypatch.setattr(aligner, "tokenize_words", llm_only_two)
    alignment = pipe.align(wave, text)
    assert [w.word for w in alignment.words] == ["one", "two", "eight"]
    assert [w.interpolated for w in alignment.words] == [False, True, False]
    one, two, eight = alignment.words
    assert one.end <= two.start < two.end <= eight.start
    assert abs(one.start - 1.0) <= 0.1 and abs(eight.start - 3.0) <= 0.1


def test_long_audio_real_model(pipe, clips):
    """> 60 s of real speech (the clips repeated) through the reference model: every word, in order, in range."""
    waves = [sf.read(c, dtype="float32")[0] for c in clips]
    wave = np.concatenate([np.concatenate([w, np.zeros(RATE, np.float32)]) for w in waves * 8])
    assert wave.shape[0] / RATE > 60
    text = " ".join(["he was not an ill disposed young man."] * 10)
    alignment = pipe.align(wave, text)
    assert [w.word for w in alignment.words] == text.split()
    starts = [w.start for w in alignment.words]
    assert starts == sorted(starts) and 0 <= starts[0] and alignment.words[-1].end <= alignment.duration
    assert " ".join(s.text for s in alignment.segments) == text
    assert alignment.seconds > 0


def test_transcribe_with_timestamps_keeps_the_text(pipe, clips):
    options = {"greedy": True, "max_new_tokens": 6}
    plain = pipe.transcribe(clips[1], **options)
    timed = pipe.transcribe(clips[1], timestamps="word", **options)
    assert plain.text == timed.text and plain.words is None and plain.segments is None
    assert [w.word for w in timed.words] == timed.text.split()
    assert " ".join(s.text for s in timed.segments) == timed.text
    assert timed.align_seconds > 0
    segments_only = pipe.transcribe_batch([clips[1]], timestamps="segment", **options)[0]
    assert segments_only.words is None and segments_only.segments == timed.segments


def test_timestamps_are_checked(pipe, clips):
    with pytest.raises(ConfigError, match="timestamps"):
        pipe.transcribe(clips[0], timestamps="letter")
    empty = pipe.align(clips[0], "  ")
    assert empty.words == () and empty.segments == () and empty.duration > 0


def test_a_model_without_token_ctc_says_so(pipe, clips):
    from soundwave.inference.pipeline import Pipeline

    no_ctc = Pipeline(torch.nn.Linear(1, 1), pipe.processor)  # what the SpeechLLM design has of CTC: nothing
    with pytest.raises(SoundwaveError, match="has none"):
        no_ctc.transcribe(clips[0], timestamps="word")
    with pytest.raises(SoundwaveError, match="has none"):
        no_ctc.align(clips[0], "hello")
