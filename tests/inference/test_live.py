"""Live streams (`Pipeline.listen`): captions from the CTC head while audio arrives, then questions.

Two models: the tiny reference model (random weights: its captions are gibberish, but the CTC greedy transcript
of the whole clip is what its captions must add up to), and `coded_ctc`, which makes its CTC hear exactly the
tokens a stretch of "audio" codes for (`tests/inference/test_timestamps.py`), so a two-minute stream has a known
transcript and known word times.
"""

import math

import numpy as np
import pytest
import soundfile as sf
import torch

from soundwave.alignment.timeline import FRAME_SAMPLES
from soundwave.errors import AudioError, ConfigError, SoundwaveError
from soundwave.inference.encoded import EncodedAudio
from soundwave.inference.live import STEP_SECONDS, WINDOW_SECONDS, LiveStream
from soundwave.inference.pipeline import Pipeline
from soundwave.model.speculative import collapse_ctc
from soundwave.prompts import Turn
from tests.inference.conftest import REFERENCE
from tests.inference.test_timestamps import coded_audio

RATE = 16_000
GREEDY = {"greedy": True, "max_new_tokens": 6}


def feed_all(stream, wave: np.ndarray, sizes) -> list:
    """Feed `wave` in pieces of the given sizes (cycled), then finish; every event, in order."""
    events, at, index = [], 0, 0
    while at < wave.shape[0]:
        size = sizes[index % len(sizes)]
        events += stream.feed(wave[at : at + size])
        at, index = at + size, index + 1
    return events + stream.finish()


def finals(events) -> list[tuple[str, float, float]]:
    return [(e.text, e.start, e.end) for e in events if e.type == "final"]


def normalized(text: str) -> str:
    return " ".join(text.split())


def offline_ctc_text(pipe, wave: np.ndarray) -> str:
    """The CTC greedy transcript of the whole clip, encoded at once."""
    encoding = pipe.encode(wave)
    frames = min(int(encoding.ctc_lengths[0]), math.ceil(wave.shape[0] / FRAME_SAMPLES))
    ids = collapse_ctc(encoding.tokens[0], frames, pipe.model.blank_id)
    return pipe.tokenizer.decode(ids, skip_special_tokens=True)


@pytest.fixture(scope="module")
def speech(clips) -> np.ndarray:
    wave, rate = sf.read(clips[0], dtype="float32")  # 4.3 s, 16 kHz
    assert rate == RATE
    return wave


def test_finals_add_up_to_the_offline_ctc_transcript(pipe, speech):
    # The 4.3 s clip fits one window, and no word has to be settled early (window - context - step = 5 s): a
    # random model's windows rarely agree, so with shorter settings words are settled as a partial window heard them.
    # beam=1: the finals' text is the greedy words they settled on (a random CTC's beam search reads otherwise).
    stream = pipe.listen(step_seconds=1.0, window_seconds=8.0, context_seconds=2.0, beam=1)
    events = feed_all(stream, speech, [RATE // 5])  # 200 ms pieces
    text = " ".join(text for text, _, _ in finals(events))
    assert text.strip() and normalized(text) == normalized(offline_ctc_text(pipe, speech))
    assert events[-1].type == "partial" and events[-1].text == ""  # the partial is cleared at the end
    assert any(e.type == "partial" and e.text for e in events)  # captions showed before they settled


def test_the_same_finals_whatever_the_piece_sizes(pipe, speech):
    expected = finals(feed_all(pipe.listen(), speech, [RATE // 5]))
    assert finals(feed_all(pipe.listen(), speech, [4_800])) == expected
    assert finals(feed_all(pipe.listen(), speech, [1, 7_000, 333, 16_000, 2_048])) == expected
    assert finals(feed_all(pipe.listen(), speech, [speech.shape[0]])) == expected  # all at once


WORDS = "one two three four five six seven eight nine ten eleven twelve".split()


def test_two_minutes_settle_exactly_with_bounded_state(pipe, coded_ctc):
    """120 s, a word a second: the finals are the text, in time, each word once; the raw audio held stays within
    the window, the vectors kept within max_vectors, and asking reports where the audio it heard begins."""
    text = " ".join(WORDS * 10)
    starts = [0.3 + k + 0.1 * (k % 3) for k in range(120)]  # words never overlap: each lasts < 0.8 s
    wave = coded_audio(pipe.tokenizer, text, starts, seconds=121.0)
    stream = pipe.listen(max_vectors=200)
    events, held = [], []
    for at in range(0, wave.shape[0], 3_200):  # 200 ms pieces
        events += stream.feed(wave[at : at + 3_200])
        held.append(stream.buffered_seconds)
    events += stream.finish()
    settled = finals(events)
    assert " ".join(t for t, _, _ in settled) == text
    assert max(held) <= WINDOW_SECONDS + STEP_SECONDS  # however long the stream
    assert 150 <= stream.kept_vectors <= 200
    spans = [(s, e) for _, s, e in settled]
    assert all(a[1] <= b[0] + 0.2 for a, b in zip(spans, spans[1:], strict=False))  # in order, no repeats
    assert abs(spans[0][0] - (starts[0] - 0.065)) < 0.05  # the token head's lead
    emitted = [e for e in events if e.type == "final"]
    assert all(e.start >= 0 and e.end <= 121.0 for e in emitted)
    delays = [index for index, e in enumerate(events) if e.type == "final"]
    assert len(delays) >= 60  # settled as it went, not all at the end
    audio, heard_from = stream.heard("What was said?", **GREEDY)
    assert audio.embeds.shape[0] == 200 and heard_from > 60  # the oldest vectors were dropped
    answer = stream.ask("What was said?", **GREEDY)
    assert answer.heard_from == heard_from and answer.audio_tokens == 200
    assert answer.audio_seconds == pytest.approx(121.0 - heard_from)


def test_a_word_is_final_about_two_steps_after_it_ends(pipe, coded_ctc):
    wave = coded_audio(pipe.tokenizer, "one two", [1.0, 4.0], seconds=8.0)
    stream = pipe.listen(step_seconds=1.0)
    when = {}
    for at in range(0, wave.shape[0], 1_600):
        for event in stream.feed(wave[at : at + 1_600]):
            when.setdefault((event.type, event.text), (at + 1_600) / RATE)
    assert when[("partial", "one")] == 2.0  # the first step after it
    assert when[("final", "one")] == 3.0  # the next step agrees
    assert when[("final", "two")] <= 6.0


def test_words_the_windows_never_agree_on_still_settle(pipe, coded_ctc, monkeypatch):
    """Were successive windows never to agree, words would still be settled once the window must move on: the
    raw audio held stays within the window and every word comes out once."""
    from soundwave.inference import live  # (`soundwave.inference` itself is the release's function)

    monkeypatch.setattr(live, "agreed", lambda current, before, settled_by: [])
    text = " ".join(WORDS * 3)
    wave = coded_audio(pipe.tokenizer, text, [0.5 + 0.8 * k for k in range(36)], seconds=30.0)
    stream = pipe.listen()
    events = []
    for at in range(0, wave.shape[0], 8_000):
        events += stream.feed(wave[at : at + 8_000])
        assert stream.buffered_seconds <= WINDOW_SECONDS + STEP_SECONDS
    before_finish = finals(events)
    events += stream.finish()
    assert before_finish and " ".join(t for t, _, _ in finals(events)) == text


def test_ask_splices_the_vectors_as_generate_would(pipe, speech):
    """Encoded audio in place of a recording gives the same answer: the splice is the same."""
    encoding = pipe.encode(speech)
    encoded = EncodedAudio(encoding.embeds[0, : int(encoding.lengths[0])], speech.shape[0] / RATE)
    fresh = pipe.generate(speech, "What is said?", **GREEDY)
    spliced = pipe.generate(encoded, "What is said?", **GREEDY)
    assert spliced.text == fresh.text and spliced.audio_tokens == fresh.audio_tokens
    assert spliced.input_tokens == fresh.input_tokens and spliced.audio_seconds == pytest.approx(4.284)
    assert "".join(pipe.stream(encoded, "What is said?", **GREEDY)).strip() == fresh.text


def test_ask_before_during_and_after_the_stream(pipe, speech):
    stream = pipe.listen()
    nothing = stream.ask("Anything?", **GREEDY)
    assert nothing.audio_tokens == 0 and nothing.heard_from == 0.0
    stream.feed(speech[: int(2.5 * RATE)])  # two steps and a half: the last half second is encoded for the ask
    during = stream.ask("What is said?", **GREEDY)
    assert during.audio_tokens > 0 and during.audio_seconds == pytest.approx(2.5)
    stream.feed(speech[int(2.5 * RATE) :])
    stream.finish()
    after = stream.ask("What is said?", **GREEDY)
    assert after.audio_tokens >= during.audio_tokens and after.heard_from == 0.0
    assert "".join(stream.ask_stream("What is said?", **GREEDY)).strip() == after.text
    assert stream.finish() == []
    with pytest.raises(SoundwaveError, match="finished"):
        stream.feed(speech[:100])


def test_ask_keeps_the_most_recent_audio_that_fits(pipe, speech):
    stream = pipe.listen()
    feed_all(stream, speech, [RATE])
    everything, heard_from = stream.heard("What is said?", max_new_tokens=8)
    assert heard_from == 0.0 and everything.embeds.shape[0] > 10
    prompt_tokens = len(pipe.processor.prompt_ids([Turn("user", "What is said?", audio=True)])) - 1
    answer_tokens = pipe.context_length - prompt_tokens - 10  # room for 10 vectors
    recent, heard_from = stream.heard("What is said?", max_new_tokens=answer_tokens)
    assert recent.embeds.shape[0] == 10 and heard_from > 0
    assert recent.seconds == pytest.approx(speech.shape[0] / RATE - heard_from)
    torch.testing.assert_close(recent.embeds, everything.embeds[-recent.embeds.shape[0] :])


def test_joint_ctc_options_are_refused_for_kept_vectors(pipe, speech):
    stream = pipe.listen()
    stream.feed(speech)
    with pytest.raises(ConfigError, match="ctc_weight=0"):
        stream.ask("What is said?", ctc_weight=0.5, **GREEDY)


@pytest.mark.parametrize(
    ("samples", "message"),
    [
        (np.zeros(100, np.int16), "divide by 32768"),
        (np.zeros((100, 2), np.float32), "1-D"),
        ([0.0] * 10, "1-D numpy array"),
        (np.array([0.0, np.nan], np.float32), "NaN"),
        (np.full(10, 5e3, np.float32), "within"),
    ],
)
def test_bad_samples_are_refused_and_the_stream_goes_on(pipe, speech, samples, message):
    stream = pipe.listen()
    events = stream.feed(speech[:RATE])
    with pytest.raises(AudioError, match=message):
        stream.feed(samples)
    assert stream.seconds == 1.0
    events += stream.feed(speech[RATE:]) + stream.finish()
    assert finals(events) == finals(feed_all(pipe.listen(), speech, [RATE]))


def test_settings_that_do_not_fit_together_are_refused(pipe):
    with pytest.raises(ConfigError, match="window_seconds"):
        LiveStream(pipe, window_seconds=2.0, context_seconds=1.0, step_seconds=1.0)
    with pytest.raises(ConfigError, match="window_seconds"):
        LiveStream(pipe, window_seconds=30.0)
    with pytest.raises(ConfigError, match="max_vectors"):
        LiveStream(pipe, max_vectors=0)


def test_a_model_without_token_ctc_cannot_listen():
    class NoCtc:
        model = torch.nn.Linear(1, 1)

    with pytest.raises(SoundwaveError, match="token CTC"):
        Pipeline.listen(NoCtc())


def test_a_word_the_greedy_path_loses_is_read_into_its_final_caption(pipe, coded_ctc, monkeypatch):
    """A word whose tokens the CTC spreads over their frames each a little below the blank (0.35 against 0.40):
    the greedy captions lose it (beam=1), the beam search of the settled stretch reads it, the partials never show
    it (they are the greedy words), and the final's times are those of the words it settled on. (The lost word lies
    between two heard ones: a stretch where the greedy path hears no word at all is passed over as silence.)"""
    model, vocab = pipe.model, pipe.model.config.vocab_size
    soft = set(pipe.tokenizer(" six", add_special_tokens=False).input_ids)  # none of them in "one" or "eight"
    coded = model.align

    def align(frames, lengths, ctc_from=0):
        aligned, logits, lengths = coded(frames, lengths, ctc_from)
        token = (frames[..., 0] * 1000).round().long()  # (W, T) the coded token of each frame
        spread = torch.full((vocab,), math.log(0.25 / (vocab - 2)))
        for label in soft:
            row = spread.clone()
            row[model.blank_id], row[label] = math.log(0.40), math.log(0.35)
            logits[token == label] = row
        return aligned, logits, lengths

    monkeypatch.setattr(model, "align", align)
    wave = coded_audio(pipe.tokenizer, "one six eight", [1.0, 1.4, 1.8], seconds=4.0)
    greedy = feed_all(pipe.listen(beam=1), wave, [RATE // 5])
    assert normalized(" ".join(t for t, _, _ in finals(greedy))) == "one eight"
    events = feed_all(pipe.listen(beam=4), wave, [RATE // 5])
    assert normalized(" ".join(t for t, _, _ in finals(events))) == "one six eight"
    assert not any("six" in e.text for e in events if e.type == "partial")
    assert [(s, e) for _, s, e in finals(events)] == [(s, e) for _, s, e in finals(greedy)]


@pytest.mark.parametrize("beam", [0, 65, 2.5])
def test_a_beam_out_of_range_is_refused(pipe, beam):
    with pytest.raises(ConfigError, match="beam"):
        pipe.listen(beam=beam)


@pytest.fixture(scope="module")
def paper_pipe():
    """The reference checkpoint with the paper's shrinking adapter (blank runs dropped, each kept vector looking back
    at every frame), so a stream may leave the settled frames' CTC unprojected."""
    pipe = Pipeline.from_pretrained(str(REFERENCE / "checkpoint"))
    pipe.model.shrink_adapter.paper = True
    return pipe


def test_frames_before_ctc_from_skip_the_head_and_change_nothing_after_them(paper_pipe, pipe, speech):
    whole, cut = paper_pipe.encode(speech), paper_pipe.encode(speech, ctc_from=40)
    frames, blank = int(whole.ctc_lengths[0]), paper_pipe.model.blank_id
    torch.testing.assert_close(cut.ctc_logits[0, 40:frames], whole.ctc_logits[0, 40:frames])
    assert not cut.ctc_logits[0, :40].any()  # never projected
    assert torch.equal(cut.tokens[0, 40:frames], whole.tokens[0, 40:frames]) and (cut.tokens[0, :40] == blank).all()
    assert torch.equal(cut.keep[0, 40:], whole.keep[0, 40:]) and not cut.keep[0, :40].any()
    kept, all_kept = int(cut.lengths[0]), int(whole.lengths[0])
    assert 0 < kept < all_kept
    torch.testing.assert_close(cut.embeds[0, :kept], whole.embeds[0, all_kept - kept : all_kept])
    # released mode: the look-back reads only the kept frames, so every frame is projected whatever is asked
    assert torch.equal(pipe.encode(speech, ctc_from=40).tokens, pipe.encode(speech).tokens)


def test_a_stream_that_skips_the_settled_frames_captions_as_one_that_does_not(paper_pipe, speech, clips, monkeypatch):
    wave = np.concatenate([speech, sf.read(clips[1], dtype="float32")[0]])  # 7.3 s: the window restarts
    asked, encode = [], paper_pipe.encode

    def spied(samples, ctc_from=0):
        asked.append(ctc_from)
        return encode(samples, ctc_from=ctc_from)

    monkeypatch.setattr(paper_pipe, "encode", spied)
    skipping = feed_all(paper_pipe.listen(), wave, [RATE // 5])
    assert max(asked) > 0  # settled frames were skipped
    monkeypatch.setattr(paper_pipe.model, "skip_ctc_before", lambda frame: 0)
    assert feed_all(paper_pipe.listen(), wave, [RATE // 5]) == skipping
