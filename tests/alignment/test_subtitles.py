"""SRT and WebVTT output, read back by real subtitle parsers (`srt`, `webvtt-py`)."""

import io
from datetime import timedelta

import srt
import webvtt

from soundwave.alignment.result import Segment
from soundwave.alignment.subtitles import clock, to_srt, to_text, to_vtt

SEGMENTS = [
    Segment(0, 0.2, 2.72, "He was not an ill disposed young man."),
    Segment(1, 3.0, 3661.5, "Long ones wrap: " + "word " * 14 + "& <b>tags</b> --> stay text."),
]


def test_clock():
    assert clock(3661.5, ",") == "01:01:01,500"
    assert clock(0.0004, ".") == "00:00:00.000"
    assert clock(-0.01, ".") == "00:00:00.000"


def test_srt_parses_back():
    cues = list(srt.parse(to_srt(SEGMENTS)))
    assert [c.index for c in cues] == [1, 2]
    assert cues[0].start == timedelta(seconds=0.2) and cues[0].end == timedelta(seconds=2.72)
    assert cues[1].end == timedelta(seconds=3661.5)
    assert cues[0].content == "He was not an ill disposed young man."
    assert " ".join(cues[1].content.split()) == SEGMENTS[1].text.replace("-->", "→")
    assert all(len(line) <= 42 for line in cues[1].content.splitlines())


def test_vtt_parses_back():
    cues = list(webvtt.from_buffer(io.StringIO(to_vtt(SEGMENTS))))
    assert [(c.start, c.end) for c in cues] == [("00:00:00.200", "00:00:02.720"), ("00:00:03.000", "01:01:01.500")]
    assert cues[0].text == SEGMENTS[0].text
    assert "&lt;b&gt;" in cues[1].raw_text and "-->" not in cues[1].raw_text


def test_empty_and_text():
    assert to_srt([]) == ""
    assert to_vtt([]).startswith("WEBVTT")
    assert to_text(SEGMENTS[:1]) == "He was not an ill disposed young man.\n"
