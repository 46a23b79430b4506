"""Word-timing metrics: how far placed words are from reference word times. Pure functions.

| summary key                    | what                                                                          |
|--------------------------------|-------------------------------------------------------------------------------|
| start_median_ms, start_mean_ms | absolute start error of the placed words                                      |
| end_median_ms, end_mean_ms     | absolute end error of the placed words                                        |
| start_within_{50,100,200}ms    | share of all reference words whose start is placed that close (a word not     |
| end_within_{50,100,200}ms      | placed counts as outside), as a fraction                                      |
| not_placed                     | reference words with no time: missing from the system's words, or interpolated |

A system's words are matched to the reference words in order (most equal words, over lowercased words without
punctuation): an aligner of the reference text matches every word; one that transcribes (the Whisper baseline)
matches what it heard, and a substituted word in the same place still counts as placed there.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

TOLERANCES_MS = (50, 100, 200)


def normalize_word(word: str) -> str:
    """Lowercase letters, digits and apostrophes ("Door." -> "door")."""
    return re.sub(r"[^\w']", "", word.lower())


def match_words(reference: Sequence[str], hypothesis: Sequence[str]) -> list[int | None]:
    """For each reference word, the index of the hypothesis word in its place (None: none).

    The alignment with the most equal words (a longest common subsequence, rapidfuzz's Indel), so a text that
    repeats itself still matches each word to its own repetition; between two equal runs, the words left over on
    both sides are paired in order (substitutions, still in place).
    """
    from rapidfuzz.distance import Indel

    ref, hyp = [normalize_word(w) or "∅" for w in reference], [normalize_word(w) or "∅" for w in hypothesis]
    matched: list[int | None] = [None] * len(reference)
    deleted: list[int] = []  # reference words since the last equal run
    inserted: list[int] = []  # hypothesis words since the last equal run

    def pair_leftovers() -> None:
        for a, b in zip(deleted, inserted, strict=False):
            matched[a] = b
        deleted.clear()
        inserted.clear()

    for tag, a0, a1, b0, b1 in Indel.opcodes(ref, hyp):
        if tag == "equal":
            pair_leftovers()
            for offset in range(a1 - a0):
                matched[a0 + offset] = b0 + offset
        else:  # "delete" / "insert" (Indel has no "replace")
            deleted += range(a0, a1)
            inserted += range(b0, b1)
    pair_leftovers()
    return matched


@dataclass(frozen=True)
class WordTiming:
    """One reference word and where the system put it (start/end None: not placed)."""

    word: str
    reference_start: float
    reference_end: float
    start: float | None = None
    end: float | None = None
    hypothesis: str | None = None  # the system's word in its place
    interpolated: bool = False

    @property
    def placed(self) -> bool:
        return self.start is not None and not self.interpolated

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "word": self.word,
            "reference_start": self.reference_start,
            "reference_end": self.reference_end,
            "start": self.start,
            "end": self.end,
        }
        if self.hypothesis is not None and self.hypothesis != self.word:
            out["hypothesis"] = self.hypothesis
        if self.interpolated:
            out["interpolated"] = True
        if self.placed:
            out["start_error"] = round(self.start - self.reference_start, 4)  # type: ignore[operator]
            out["end_error"] = round(self.end - self.reference_end, 4)  # type: ignore[operator]
        return out


def word_timings(reference: Sequence[dict[str, Any]], words: Sequence[Any]) -> list[WordTiming]:
    """Reference words ({word, start, end}) paired with a system's words (`soundwave.alignment.Word`s)."""
    matched = match_words([r["word"] for r in reference], [w.word for w in words])
    timings = []
    for ref, index in zip(reference, matched, strict=True):
        base = {"word": ref["word"], "reference_start": float(ref["start"]), "reference_end": float(ref["end"])}
        if index is None:
            timings.append(WordTiming(**base))
        else:
            word = words[index]
            timings.append(
                WordTiming(**base, start=word.start, end=word.end, hypothesis=word.word, interpolated=word.interpolated)
            )
    return timings


def timing_metrics(timings: Sequence[WordTiming]) -> dict[str, Any]:
    """The summary keys of the table above, over all `timings` (an empty list gives counts only)."""
    placed = [t for t in timings if t.placed]
    out: dict[str, Any] = {"words": len(timings), "placed": len(placed), "not_placed": len(timings) - len(placed)}
    if not timings:
        return out
    for side in ("start", "end"):
        errors = np.array([abs(getattr(t, side) - getattr(t, f"reference_{side}")) for t in placed]) * 1000.0
        errors = errors.round(3)  # to the microsecond: 0.9 s - 0.7 s is within 200 ms, float error or not
        out[f"{side}_median_ms"] = float(np.median(errors)) if len(errors) else None
        out[f"{side}_mean_ms"] = float(errors.mean()) if len(errors) else None
        for tolerance in TOLERANCES_MS:
            out[f"{side}_within_{tolerance}ms"] = float((errors <= tolerance).sum() / len(timings))
    return out
