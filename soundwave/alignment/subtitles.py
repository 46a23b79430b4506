"""Segments as subtitles: SubRip (.srt) and WebVTT (.vtt) text, and plain text.

    1                                   WEBVTT
    00:00:00,200 --> 00:00:02,720
    He was not an ill disposed          00:00:00.200 --> 00:00:02.720
    young man.                          He was not an ill disposed
                                        young man.

A cue's text is wrapped at LINE_CHARS (two lines for a segment of `segments.MAX_CHARS`); WebVTT's markup
characters are escaped, and neither format can hold "-->" in a cue, so an arrow stands for it.
"""

from __future__ import annotations

import textwrap
from collections.abc import Sequence

from soundwave.alignment.result import Segment

LINE_CHARS = 42  # a subtitle line, as broadcasters keep them


def clock(seconds: float, separator: str) -> str:
    """HH:MM:SS<separator>mmm ("," for SRT, "." for WebVTT)."""
    millis = max(0, round(seconds * 1000))
    hours, millis = divmod(millis, 3_600_000)
    minutes, millis = divmod(millis, 60_000)
    secs, millis = divmod(millis, 1000)
    return f"{hours:02d}:{minutes:02d}:{secs:02d}{separator}{millis:03d}"


def cue_text(text: str) -> str:
    """A segment's text as cue lines: wrapped, no blank line (which would end the cue), no "-->"."""
    return "\n".join(textwrap.wrap(text.replace("-->", "→"), LINE_CHARS)) or "…"


def to_srt(segments: Sequence[Segment]) -> str:
    """SubRip: numbered cues from 1, blank line after each."""
    cues = [
        f"{number}\n{clock(s.start, ',')} --> {clock(s.end, ',')}\n{cue_text(s.text)}\n"
        for number, s in enumerate(segments, start=1)
    ]
    return "\n".join(cues)


def to_vtt(segments: Sequence[Segment]) -> str:
    """WebVTT: the header, then one cue per segment (&, < and > escaped)."""
    cues = []
    for s in segments:
        text = cue_text(s.text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
        cues.append(f"{clock(s.start, '.')} --> {clock(s.end, '.')}\n{text}\n")
    return "\n".join(["WEBVTT\n", *cues])


def to_text(segments: Sequence[Segment]) -> str:
    """Plain text: one segment per line."""
    return "".join(s.text + "\n" for s in segments)
