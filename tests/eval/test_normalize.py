"""Whisper normalizers chosen by language: numbers, contractions, punctuation, spelling."""

import pytest

from soundwave.eval.normalize import get_normalizer, is_character_language, normalize_text, normalizer_name


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Hello, World!", "hello world"),  # case and punctuation
        ("I'm twenty-five years old.", "i am 25 years old"),  # contraction, spelled-out number
        ("Don't you won't", "do not you will not"),
        ("ten of clubs", "10 of clubs"),
        ("one hundred and two", "102"),
        ("Mr. Smith's colour", "mister smith is color"),  # title, British spelling ('s is Whisper's choice)
        ("  lots   of\tspace  ", "lots of space"),
        ("", ""),
    ],
)
def test_english(text: str, expected: str) -> None:
    assert normalize_text(text, "en") == expected


def test_english_is_whispers_own_normalizer() -> None:
    from whisper_normalizer.english import EnglishTextNormalizer

    assert isinstance(get_normalizer("en"), EnglishTextNormalizer)
    assert isinstance(get_normalizer("en-US"), EnglishTextNormalizer)


def test_other_languages_use_basic_normalizer() -> None:
    from whisper_normalizer.basic import BasicTextNormalizer

    assert isinstance(get_normalizer("de"), BasicTextNormalizer)
    assert normalize_text("Grüße, Welt! Zwanzig.", "de") == "grüße welt zwanzig"  # no English number rules
    assert normalizer_name("de") == "whisper-basic"
    assert normalizer_name(None) == "whisper-basic"


def test_character_languages_split_into_characters() -> None:
    assert is_character_language("zh") and not is_character_language("en")
    assert normalize_text("我爱北京。", "zh") == "我 爱 北 京"
