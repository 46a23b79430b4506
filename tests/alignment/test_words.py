"""Text -> words and units, unit frames -> word times, interpolation of what the CTC cannot place."""

import numpy as np
import pytest

from soundwave.alignment.segments import split_segments
from soundwave.alignment.words import (
    UnitPlace,
    build_words,
    interpolate,
    spell_words,
    split_words,
    tokenize_words,
    word_spans,
)
from soundwave.model.spelling import SPACE, spell


@pytest.fixture(scope="module")
def tokenizer():
    from transformers import AutoTokenizer

    import soundwave  # noqa: F401  (registers the Soundwave config)
    from tests.inference.conftest import REFERENCE

    return AutoTokenizer.from_pretrained(REFERENCE / "checkpoint")


def test_tokens_know_their_word(tokenizer):
    text = "He might  even, eight."
    units = tokenize_words(tokenizer, text)
    assert [w for w, _, _ in units.words] == ["He", "might", "even,", "eight."]
    assert units.labels == tuple(tokenizer(text, add_special_tokens=False).input_ids)  # the CTC's targets
    for label, owner in zip(units.labels, units.word_of_label, strict=True):
        piece = tokenizer.decode([label])
        if owner < 0:
            assert not piece.strip()  # a lone space token belongs to no word
        else:
            assert piece.strip() in units.words[owner][0]
    assert sorted(set(units.word_of_label) - {-1}) == [0, 1, 2, 3]


def test_spelled_words_skip_what_cannot_be_spelled():
    units = spell_words("It costs 21 dollars.")
    assert list(units.labels) == spell("It costs dollars")  # "21" has no letters
    owners = set(units.word_of_label) - {-1}
    assert owners == {0, 1, 3}
    assert all(label == SPACE for label, owner in zip(units.labels, units.word_of_label, strict=True) if owner < 0)


def test_word_spans_from_unit_frames():
    units = spell_words("ab c")  # a b _ c
    times = np.arange(20) * 0.02
    places = [UnitPlace(2, 2, 0.9), UnitPlace(4, 5, 0.7), UnitPlace(6, 6, 1.0), UnitPlace(10, 11, 0.5)]
    spans = word_spans(units, places, times, 0.02)
    assert spans[0] == pytest.approx((0.04, 0.12, 0.8))
    assert spans[1] == pytest.approx((0.20, 0.24, 0.5))
    lead = word_spans(units, places, times, 0.02, lead=0.06, lag=0.01)
    assert lead[0] == pytest.approx((0.0, 0.13, 0.8))  # never before 0


def test_unplaced_words_are_interpolated_flagged_and_kept():
    words = tuple(split_words("one two three four"))
    spans = [(1.0, 1.5, 0.9), None, None, (4.0, 4.5, 0.8)]
    built = build_words(words, spans, duration=5.0)
    assert [w.word for w in built] == ["one", "two", "three", "four"]
    assert [w.interpolated for w in built] == [False, True, True, False]
    assert built[1].start == pytest.approx(1.5) and built[2].end == pytest.approx(4.0)
    assert built[1].end == pytest.approx(built[2].start)
    assert built[2].end - built[2].start > built[1].end - built[1].start  # "three" is longer than "two"
    assert built[1].confidence == 0 and built[1].to_dict()["interpolated"] is True
    assert "interpolated" not in built[0].to_dict()


def test_nothing_placed_spreads_over_the_recording():
    filled = interpolate([None, None], [3, 3], duration=2.0)
    assert filled == [(0.0, 1.0, 0.0), (1.0, 2.0, 0.0)]


def test_words_never_overlap_or_go_back():
    words = tuple(split_words("a b c"))
    built = build_words(words, [(0.5, 1.2, 1.0), (1.0, 1.5, 1.0), (0.9, 2.0, 1.0)], duration=3.0)
    starts = [w.start for w in built]
    assert starts == sorted(starts)
    assert all(a.end <= b.start for a, b in zip(built, built[1:], strict=False))


def test_segments_end_at_sentences_and_pauses():
    text = "Hello there. How are you? I am fine"
    words = tuple(split_words(text))
    times = [(0.0, 0.3), (0.3, 0.6), (0.7, 0.9), (0.9, 1.0), (1.0, 1.2), (3.0, 3.1), (3.1, 3.2), (3.2, 3.5)]
    built = build_words(words, [(a, b, 1.0) for a, b in times], duration=4.0)
    segments = split_segments(built, text)
    assert [s.text for s in segments] == ["Hello there.", "How are you?", "I am fine"]
    assert [(s.start, s.end) for s in segments] == [(0.0, 0.6), (0.7, 1.2), (3.0, 3.5)]
    assert [s.id for s in segments] == [0, 1, 2]
    no_sentences = split_segments(built[2:4] + built[5:], text, max_pause=1.0)
    assert [s.text for s in no_sentences] == ["How are", "I am fine"]  # a 2 s pause splits it
    long = split_segments(built, text, max_chars=12)
    assert all(len(s.text) <= 12 for s in long)
