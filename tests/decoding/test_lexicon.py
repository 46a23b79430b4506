"""Lexicon: spelled words, prefix lookups, and the non-words a hypothesis's latest token spells."""

import pytest

from soundwave.decoding.lexicon import Lexicon


@pytest.fixture(scope="module")
def lexicon():
    return Lexicon(["gratified", "Gradual", "grad", "Don't", "I", "was", "two words"])


def test_words_are_spelled_and_looked_up_by_prefix(lexicon):
    assert lexicon.is_word("don't") and lexicon.is_word("gradual") and not lexicon.is_word("two words")
    assert lexicon.is_prefix("grat") and lexicon.is_prefix("") and not lexicon.is_prefix("gradi")
    assert len(lexicon) == 6


def test_violations_count_the_words_a_token_finishes_and_its_unfinished_word(lexicon):
    assert lexicon.violations("i was", "i was grat") == 0  # a word that starts "grat" exists
    assert lexicon.violations("i was", "i was gradi") == 1  # none starts "gradi"
    assert lexicon.violations("i was gradifie", "i was gradified i") == 1  # "gradified" finished: no word
    assert lexicon.violations("i was grat", "i was gratified i") == 0


def test_a_missing_word_list_names_the_package(tmp_path):
    with pytest.raises(FileNotFoundError, match="wamerican"):
        Lexicon.from_file(tmp_path / "words")
