"""Text normalization before scoring: Whisper's normalizers, the field's de facto standard.

English uses `EnglishTextNormalizer` (spelling, numbers, contractions, punctuation) and every other
language `BasicTextNormalizer` (lowercase, strip punctuation and symbols), both from the maintained
`whisper_normalizer` package, so our WER is comparable with Whisper, Qwen2-Audio, NeMo, SLAM and the
Open ASR Leaderboard.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache

from whisper_normalizer.basic import BasicTextNormalizer
from whisper_normalizer.english import EnglishTextNormalizer

Normalizer = Callable[[str], str]

# Scripts written without spaces between words: score them by characters (CER), and have the basic
# normalizer split them into characters so that "word" counts still mean something.
CHARACTER_LANGUAGES = frozenset({"zh", "ja", "th", "lo", "my", "yue"})


def _base_language(language: str | None) -> str | None:
    """'en-US' / 'EN_gb' -> 'en'; None and '' stay None."""
    if not language:
        return None
    return language.replace("_", "-").split("-")[0].lower()


@cache
def get_normalizer(language: str | None) -> Normalizer:
    """The normalizer to apply before scoring text in `language`.

    Args:
        language: an ISO 639-1 code such as "en" or "de" (region suffixes like "en-US" are accepted);
            None means unknown and gets the basic normalizer.

    Returns:
        A function str -> str.
    """
    base = _base_language(language)
    if base == "en":
        return EnglishTextNormalizer()
    return BasicTextNormalizer(split_letters=base in CHARACTER_LANGUAGES)


def normalizer_name(language: str | None) -> str:
    """A short label for reports: which normalizer `get_normalizer(language)` returns."""
    base = _base_language(language)
    if base == "en":
        return "whisper-english"
    return "whisper-basic-split" if base in CHARACTER_LANGUAGES else "whisper-basic"


def normalize_text(text: str, language: str | None = "en") -> str:
    """Normalize `text` for scoring in `language`, with whitespace collapsed to single spaces."""
    return " ".join(get_normalizer(language)(text).split())


def is_character_language(language: str | None) -> bool:
    """True for languages scored by characters (CER) rather than words."""
    return _base_language(language) in CHARACTER_LANGUAGES
