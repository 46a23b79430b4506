"""Words -> segments (subtitle cues): a new segment after a sentence end, at a long pause, or when one grows long.

A segment's text is the span of the aligned text from its first word to its last, as written (spacing and
punctuation kept).
"""

from __future__ import annotations

import re

from soundwave.alignment.result import Alignment, AlignmentTrace, Segment, Word

SENTENCE_END = re.compile(r"[.!?…][\"')\]»”’]*$")  # "done." "right?" "(really!)" end a sentence
MAX_PAUSE = 0.8  # seconds of silence between two words that start a new segment
MAX_SECONDS = 10.0  # a segment this long ends at its next word boundary (subtitles stay readable)
MAX_CHARS = 84  # two subtitle lines of 42 characters


def split_segments(
    words: list[Word],
    text: str,
    max_pause: float = MAX_PAUSE,
    max_seconds: float = MAX_SECONDS,
    max_chars: int = MAX_CHARS,
) -> list[Segment]:
    """Group `words` (in order, from `text`) into segments.

    A segment ends after a word that ends a sentence, before a word that starts `max_pause` or more after the
    previous word ended, and before a word that would make it longer than `max_seconds` or `max_chars`.
    """
    groups: list[list[Word]] = []
    for word in words:
        if groups:
            current, previous = groups[-1], groups[-1][-1]
            too_long = word.end - current[0].start > max_seconds or word.char_end - current[0].char_start > max_chars
            if SENTENCE_END.search(previous.word) or word.start - previous.end >= max_pause or too_long:
                groups.append([word])
            else:
                current.append(word)
        else:
            groups.append([word])
    return [
        Segment(
            id=index,
            start=group[0].start,
            end=group[-1].end,
            text=text[group[0].char_start : group[-1].char_end],
            words=tuple(group),
        )
        for index, group in enumerate(groups)
    ]


def aligned(
    text: str, words: list[Word], duration: float, seconds: float, trace: AlignmentTrace | None = None
) -> Alignment:
    """The `Alignment` of `text` from its placed words: segments cut from them (`split_segments`)."""
    return Alignment(text, tuple(words), tuple(split_segments(words, text)), duration, seconds, trace)
