"""From a text and a forced CTC path to words in time.

The text is cut at whitespace into words (punctuation stays on its word, as written). Each word is then written
in the CTC's units, knowing which word each unit belongs to: the LLM's tokens (the text tokenized once, mapped to
words by character offsets) or the spelling head's characters. The forced path gives each unit the frames where it
is emitted; a word starts at its first unit's first frame and ends after its last unit's last frame. A word with
no placed unit (no letters to spell, ids outside the CTC head's vocabulary, no possible path at all) gets times
spread between its placed neighbours, in proportion to its length, and is flagged `interpolated`: never dropped.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from soundwave.alignment.result import Word
from soundwave.model.spelling import SPACE, spell

_WORD = re.compile(r"\S+")

Span = tuple[float, float, float]  # start, end (seconds), confidence


@dataclass(frozen=True)
class TextUnits:
    """A text's words and its CTC units (LLM tokens or spelled characters), and which word each unit is in.

    Attributes:
        words: (text, char_start, char_end) of each whitespace-separated word.
        labels: the CTC labels, in order, as the head was trained on them.
        word_of_label: the word index of each label; -1 for a label between words (a space).
    """

    words: tuple[tuple[str, int, int], ...]
    labels: tuple[int, ...]
    word_of_label: tuple[int, ...]


def split_words(text: str) -> list[tuple[str, int, int]]:
    """(word, start, end) of each whitespace-separated word of `text`."""
    return [(m.group(), m.start(), m.end()) for m in _WORD.finditer(text)]


def tokenize_words(tokenizer, text: str) -> TextUnits:
    """Tokenize `text` as the token CTC's targets were (`add_special_tokens=False`); map tokens to words by offsets.

    A tokenizer without offsets (a slow one) tokenizes word by word instead, each word after the first with
    its leading space, which is how byte-level BPEs split at spaces anyway.
    """
    words = split_words(text)
    if getattr(tokenizer, "is_fast", False):
        encoded = tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)
        owners, w = [], 0
        for start, end in encoded["offset_mapping"]:
            while w < len(words) and words[w][2] <= start:  # words wholly before this token
                w += 1
            # a token's non-space characters lie in word w (a token never spans two words when the tokenizer
            # splits at spaces; if one does, it goes to the first); "Ġ" alone belongs to no word
            owners.append(w if w < len(words) and words[w][1] < end and text[start:end].strip() else -1)
        return TextUnits(tuple(words), tuple(encoded["input_ids"]), tuple(owners))
    labels, owners = [], []
    for index, (word, _, _) in enumerate(words):
        piece = tokenizer(word if index == 0 else " " + word, add_special_tokens=False)["input_ids"]
        labels += piece
        owners += [index] * len(piece)
    return TextUnits(tuple(words), tuple(labels), tuple(owners))


def spell_words(text: str) -> TextUnits:
    """The spelling head's labels of `text` (`soundwave.model.spelling.spell`: letters and apostrophes, one space
    between words), each word's letters owned by it. A word with nothing to spell ("21", "—") owns no label."""
    words = split_words(text)
    labels: list[int] = []
    owners: list[int] = []
    for index, (word, _, _) in enumerate(words):
        letters = spell(word)  # "well-known" -> well, space, known: one word of ours
        if not letters:
            continue
        if labels:
            labels.append(SPACE)
            owners.append(-1)
        labels += letters
        owners += [-1 if label == SPACE else index for label in letters]
    return TextUnits(tuple(words), tuple(labels), tuple(owners))


@dataclass(frozen=True)
class UnitPlace:
    """Where the forced path emits one unit: its first and last frame and its best posterior there."""

    first: int
    last: int
    probability: float


def unit_places(path: np.ndarray, log_probs: np.ndarray, columns: list[int]) -> list[UnitPlace]:
    """Each aligned unit's frames, from a forced path.

    Args:
        path: (T,) index into `columns` of the unit each frame emits, -1 for blank (`forced_align`'s output).
        log_probs: (T, C) CTC log-probs of the columns the path indexes.
        columns: the column of each aligned unit.
    """
    places = []
    for index, column in enumerate(columns):
        frames = np.flatnonzero(path == index)
        best = float(np.exp(log_probs[frames, column].max()))
        places.append(UnitPlace(int(frames[0]), int(frames[-1]), best))
    return places


def word_spans(
    units: TextUnits,
    places: list[UnitPlace | None],
    times: np.ndarray,
    frame_seconds: float,
    lead: float = 0.0,
    lag: float = 0.0,
) -> list[Span | None]:
    """(start, end, confidence) of each word from its units' places; None where no unit of it was placed.

    Args:
        units: the words and their CTC units.
        places: one per unit: where it was emitted, or None where the CTC could not place it.
        times: (T,) start second of each CTC frame.
        frame_seconds: the length of one frame.
        lead: seconds a word starts before its first unit's first frame; lag: seconds it ends after its last
            unit's last frame (a CTC emits a unit once it has heard some of it: calibrated per head).
    """
    mine: list[list[UnitPlace]] = [[] for _ in units.words]
    for place, owner in zip(places, units.word_of_label, strict=True):
        if place is not None and owner >= 0:
            mine[owner].append(place)
    spans: list[Span | None] = []
    for word_places in mine:
        if not word_places:
            spans.append(None)
            continue
        start = float(times[word_places[0].first]) - lead
        end = float(times[word_places[-1].last]) + frame_seconds + lag
        spans.append((max(start, 0.0), max(end, start), float(np.mean([p.probability for p in word_places]))))
    return spans


def build_words(words: tuple[tuple[str, int, int], ...], spans: list[Span | None], duration: float) -> list[Word]:
    """Words from their spans (None: interpolated and flagged), every time within [0, duration].

    Words follow each other: starts never decrease, and a word that would end after the next one starts ends there.
    """
    filled = interpolate(spans, [len(w) for w, _, _ in words], duration)
    # heads with different leads (spelling, tokens) may place neighbours a few ms out of order: starts never go back
    starts = [float(s) for s in np.maximum.accumulate([min(start, duration) for start, _, _ in filled] or [0.0])]
    out = []
    for index, ((word, char_start, char_end), (_, end, confidence), span) in enumerate(
        zip(words, filled, spans, strict=True)
    ):
        start = starts[index]
        if index + 1 < len(starts):
            end = min(end, max(starts[index + 1], start))
        out.append(Word(word, start, min(max(end, start), duration), confidence, span is None, char_start, char_end))
    return out


def interpolate(spans: list[Span | None], lengths: list[int], duration: float) -> list[Span]:
    """Fill each run of unplaced words (None) between the end of the placed word before it (or 0) and the start
    of the placed word after it (or `duration`), each word getting time in proportion to `lengths` (characters).
    Filled words get confidence 0."""
    filled: list[Span] = []
    index = 0
    while index < len(spans):
        span = spans[index]
        if span is not None:
            filled.append(span)
            index += 1
            continue
        stop = index
        while stop < len(spans) and spans[stop] is None:
            stop += 1
        low = filled[-1][1] if filled else 0.0
        following = spans[stop] if stop < len(spans) else None
        high = max(following[0] if following is not None else duration, low)
        weights = np.asarray(lengths[index:stop], dtype=float) + 1.0  # +1: a space, so no word gets no time
        edges = low + (high - low) * np.concatenate([[0.0], np.cumsum(weights) / weights.sum()])
        filled += [(float(a), float(b), 0.0) for a, b in zip(edges[:-1], edges[1:], strict=True)]
        index = stop
    return filled
