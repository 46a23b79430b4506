"""Metric values on hand-computed cases, including empty references and hypotheses."""

import math

import pytest

from soundwave.errors import SoundwaveError
from soundwave.eval import metrics
from soundwave.eval.metrics import ErrorCounts


def test_wer_counts_hand_computed() -> None:
    # "sat"->"sit" is a substitution, the second "the" is deleted; "there" is inserted in the second pair.
    refs = ["the cat sat on the mat", "hello world"]
    hyps = ["the cat sit on mat", "hello there world"]
    counts = metrics.word_error_counts(refs, hyps)
    assert counts == ErrorCounts(hits=6, substitutions=1, deletions=1, insertions=1)
    assert counts.reference_length == 8
    assert metrics.wer(refs, hyps) == pytest.approx(3 / 8)
    assert counts.note is None


def test_wer_is_corpus_level_not_mean_of_utterances() -> None:
    # utterance WERs 1/1 and 0/9 average to 0.5; the corpus WER is 1/10
    refs, hyps = ["a", "b c d e f g h i j"], ["x", "b c d e f g h i j"]
    assert metrics.wer(refs, hyps) == pytest.approx(0.1)


def test_empty_reference_counts_insertions() -> None:
    counts = metrics.word_error_counts([""], ["a b"])
    assert counts == ErrorCounts(insertions=2)
    assert counts.rate == 2.0  # over a denominator of 1
    assert "insertions" in counts.note
    # mixed with a non-empty reference, the insertion just adds to the corpus errors
    assert metrics.wer(["a b", ""], ["a b", "c"]) == pytest.approx(1 / 2)


def test_empty_hypothesis_counts_deletions() -> None:
    assert metrics.word_error_counts(["a b c"], [""]) == ErrorCounts(deletions=3)
    assert metrics.wer(["a b c"], [""]) == 1.0


def test_all_empty_corpus_is_zero_with_note() -> None:
    counts = metrics.word_error_counts(["", ""], ["", ""])
    assert counts.rate == 0.0
    assert "defined as 0" in counts.note
    assert metrics.wer([], []) == 0.0


def test_cer_hand_computed() -> None:
    assert metrics.cer(["abc"], ["abd"]) == pytest.approx(1 / 3)
    counts = metrics.char_error_counts(["ab c"], ["abc"])  # the space is a reference character
    assert counts == ErrorCounts(hits=3, deletions=1)
    assert counts.rate == pytest.approx(0.25)


def test_mismatched_lengths_raise() -> None:
    with pytest.raises(ValueError, match="2 references but 1 hypotheses"):
        metrics.wer(["a", "b"], ["a"])


def test_bleu_known_pair() -> None:
    # 13a: unigram 5/6, bigram 2/5, trigram 1/4, 4-gram 0/3 (exp smoothing -> 1/6), BP exp(1 - 7/6)
    score = metrics.bleu(["the cat is on the mat"], ["there is a cat on the mat"])
    expected = math.exp(1 - 7 / 6) * (5 / 6 * 2 / 5 * 1 / 4 * 1 / 6) ** 0.25 * 100
    assert score.score == pytest.approx(expected, abs=1e-6)
    assert score.score == pytest.approx(29.06, abs=0.01)
    assert (score.hypothesis_length, score.reference_length) == (6, 7)
    assert score.tokenize == "13a" and "tok:13a" in score.signature
    assert metrics.bleu(["four words right here"], ["four words right here"]).score == pytest.approx(100.0)


def test_bleu_tokenizer_by_language() -> None:
    assert metrics.bleu_tokenizer("de") == "13a"
    assert metrics.bleu_tokenizer("zh") == "zh"
    assert metrics.bleu_tokenizer("ja") == "ja-mecab"
    assert metrics.bleu_tokenizer(None) == "13a"
    # without the zh tokenizer the unsegmented sentence would be one token and score 0
    assert metrics.bleu(["我爱北京"], ["我爱北京天安门"], language="zh").score > 0


def test_bleu_missing_extra_names_the_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(metrics._TOKENIZER_EXTRAS, "ja-mecab", (("no_such_module_xyz",), "pip install 'sacrebleu[ja]'"))
    with pytest.raises(SoundwaveError, match=r"pip install 'sacrebleu\[ja\]'"):
        metrics.bleu(["猫"], ["猫"], language="ja")


def test_exact_match_and_contains() -> None:
    refs = ["paris", "b", "blue", ""]
    hyps = ["paris", "the answer is b", "bluebird", ""]
    assert metrics.exact_match(refs, hyps) == pytest.approx(2 / 4)  # "paris" and the empty pair
    assert metrics.contains_rate(refs, hyps) == pytest.approx(3 / 4)  # "b" as a word, not "blue" in "bluebird"
    assert not metrics.contains_answer("", "something")
    with pytest.raises(ValueError, match="no items"):
        metrics.exact_match([], [])


def test_speed_metrics() -> None:
    assert metrics.rtfx(audio_seconds=30.0, compute_seconds=1.5) == pytest.approx(20.0)
    assert metrics.tokens_per_second(100, 4.0) == pytest.approx(25.0)
    assert metrics.rtfx(10.0, 0.0) is None
