"""What an alignment gives: `Word`s and `Segment`s with times in seconds from the start of the recording.

Their `to_dict()` forms are those of OpenAI's `verbose_json` transcription (`words[{word, start, end}]`,
`segments[{id, start, end, text}]`), plus our `confidence` and an `interpolated` flag, so the CLI's JSON lines and
the server's responses are the same objects written out.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np


@dataclass(frozen=True)
class Word:
    """One whitespace-separated word of the text (punctuation kept as written), placed in time.

    Attributes:
        word: the word as written in the text ("chair," keeps its comma).
        start: seconds from the start of the recording to the word's first CTC frame.
        end: seconds to the end of the word.
        confidence: mean CTC posterior of its units (tokens or letters) at their frames, in [0, 1]; 0 when
            interpolated; None from an aligner that has none (the Whisper baseline).
        interpolated: the CTC could not place it (tokens outside the CTC vocabulary, no possible path): its times
            are spread between the neighbours that were placed.
        char_start: where the word starts in the aligned text (characters); char_end: where it ends.
    """

    word: str
    start: float
    end: float
    confidence: float | None
    interpolated: bool = False
    char_start: int = 0
    char_end: int = 0

    def to_dict(self) -> dict[str, Any]:
        """`{"word", "start", "end", "confidence"}` (OpenAI's word fields + ours), `"interpolated": true` if so."""
        out: dict[str, Any] = {
            "word": self.word,
            "start": round(self.start, 3),
            "end": round(self.end, 3),
            "confidence": None if self.confidence is None else round(self.confidence, 3),
        }
        if self.interpolated:
            out["interpolated"] = True
        return out


@dataclass(frozen=True)
class Segment:
    """A run of words, cut at sentence ends and long pauses: a subtitle cue."""

    id: int
    start: float
    end: float
    text: str
    words: tuple[Word, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """`{"id", "start", "end", "text"}`: the fields OpenAI's `verbose_json` segments share with ours."""
        return {"id": self.id, "start": round(self.start, 3), "end": round(self.end, 3), "text": self.text}


@dataclass(frozen=True)
class AlignmentTrace:
    """What the alignment plot draws, per CTC frame of the recording.

    Attributes:
        times: (T,) start second of each CTC frame.
        speech: (T,) 1 - p(blank): where the CTC hears a token.
        peaks: (frame, token text) of each token of the text where the forced path emits it.
    """

    times: np.ndarray
    speech: np.ndarray
    peaks: tuple[tuple[int, str], ...] = ()


@dataclass(frozen=True)
class Alignment:
    """A text placed in a recording: its words, its segments, and what it cost."""

    text: str
    words: tuple[Word, ...]
    segments: tuple[Segment, ...]
    duration: float  # seconds of audio
    seconds: float = 0.0  # wall time of the alignment (encoder + CTC head + Viterbi)
    trace: AlignmentTrace | None = field(default=None, repr=False)

    @property
    def interpolated(self) -> int:
        """Words the CTC could not place."""
        return sum(w.interpolated for w in self.words)

    def to_dict(self, words: bool = True, segments: bool = True) -> dict[str, Any]:
        """`{"text", "duration", "words": [...], "segments": [...]}` (either list left out when not asked for)."""
        out: dict[str, Any] = {"text": self.text, "duration": round(self.duration, 3)}
        if words:
            out["words"] = [w.to_dict() for w in self.words]
        if segments:
            out["segments"] = [s.to_dict() for s in self.segments]
        return out


def verbose_json(
    text: str,
    duration: float,
    words: list[Word] | None,
    segments: list[Segment] | None,
    language: str = "english",
) -> dict[str, Any]:
    """OpenAI's `verbose_json` transcription response (`POST /v1/audio/transcriptions`): `task`, `language`,
    `duration`, `text`, and `words` / `segments` when given. Segments carry OpenAI's decoder fields too, with the
    values a CTC alignment has for them (no seek, tokens or sampling temperature: 0 and []), so strict clients parse
    them; words keep our `confidence`, which OpenAI's clients ignore."""
    out: dict[str, Any] = {"task": "transcribe", "language": language, "duration": round(duration, 3), "text": text}
    if words is not None:
        out["words"] = [w.to_dict() for w in words]
    if segments is not None:
        openai_fields = {"seek": 0, "tokens": [], "temperature": 0.0, "avg_logprob": 0.0}
        openai_fields |= {"compression_ratio": 0.0, "no_speech_prob": 0.0}
        out["segments"] = [s.to_dict() | openai_fields for s in segments]
    return out
