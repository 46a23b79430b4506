"""The token CTC's greedy path as words in time (what live captions are made of)."""

import numpy as np

from soundwave.alignment.aligner import HeadTiming
from soundwave.alignment.greedy import TokenTexts, emitted_tokens, greedy_words, words_text

BLANK = 0
PIECES = {1: " He", 2: " was", 3: "n't", 4: " here", 5: ".", 6: "He", 7: " he", 8: "Mc", 9: "Donald"}
TIMING = HeadTiming(frame_samples=640, lead=0.0, lag=0.0)  # 40 ms frames


class Pieces:
    """A tokenizer that decodes each id to its piece (no special tokens)."""

    def decode(self, ids, skip_special_tokens=True):
        return "".join(PIECES.get(i, "") for i in ids)


def words(path: list[int]):
    best = np.array(path)
    return greedy_words(best, np.arange(len(path)) * 0.04, BLANK, TokenTexts(Pieces()), TIMING)


def test_emitted_tokens_merges_runs_and_drops_blanks():
    assert emitted_tokens(np.array([0, 1, 1, 0, 1, 2, 0, 0]), BLANK) == [(1, 1, 2), (1, 4, 4), (2, 5, 5)]


def test_a_space_starts_a_word_and_pieces_without_one_join_it():
    heard = words([0, 1, 0, 2, 3, 0, 4, 5])
    assert [w.text for w in heard] == [" He", " wasn't", " here."]
    assert [w.ids for w in heard] == [(1,), (2, 3), (4, 5)]
    assert heard[1].first == 3 * 0.04 and heard[1].last == 5 * 0.04  # its first frame to its last frame's end


def test_a_capital_after_a_lower_case_letter_or_punctuation_starts_a_word_with_its_space_put_back():
    heard = words([7, 6, 0, 4, 5, 6, 2])  # " he" "He" " here" "." "He" " was": "heHe here.He was"
    assert "".join(w.text for w in heard) == " he He here. He was"
    assert [w.ids for w in heard] == [(7,), (6,), (4, 5), (6,), (2,)]


def test_a_capital_after_a_capital_stays_in_its_word():
    assert [w.text for w in words([8, 9])] == ["Mc", " Donald"]  # lower-case before: split (the rule's one cost)
    assert [w.text for w in words([6, 0, 1])] == ["He", " He"]


def test_a_beam_searchs_tokens_are_spaced_as_the_greedy_words_are():
    path = [7, 6, 0, 4, 5, 6, 2, 8, 9]
    ids = tuple(token for token, _, _ in emitted_tokens(np.array(path), BLANK))
    assert words_text(ids, TokenTexts(Pieces())) == "".join(w.text for w in words(path)).strip()
    assert words_text((), TokenTexts(Pieces())) == ""
