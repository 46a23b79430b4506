"""JSONL manifests: both line forms, every bad-input case with its line number, round trip."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from soundwave.data.manifest import Sample, read_manifest, write_manifest
from soundwave.errors import ManifestError


def write_lines(path: Path, lines: list) -> Path:
    """Write each item as one line: dicts as JSON, strings verbatim."""
    path.write_text("".join((json.dumps(x) if not isinstance(x, str) else x) + "\n" for x in lines))
    return path


def test_flat_and_conversation_forms(tmp_path, tone):
    tone("a.wav")
    tone("sub/b.wav")
    manifest = write_lines(
        tmp_path / "m.jsonl",
        [
            {
                "id": "u1",
                "audio": "a.wav",
                "prompt": "<audio>\nTranscribe.",
                "answer": "hi",
                "language": "en",
            },
            {
                "conversations": [
                    {"from": "user", "value": "<audio_patch>What is said?", "audio": "sub/b.wav"},
                    {"from": "assistant", "value": "hello there", "transcription": "hello there"},
                ],
                "task": "qa",
            },
            {
                "conversations": [
                    {"from": "human", "value": "Tell a joke."},
                    {"from": "gpt", "value": "No."},
                ]
            },
        ],
    )
    result = read_manifest(manifest)
    assert result.skipped == []
    flat, conv, text = result.samples
    assert flat == Sample(
        id="u1",
        audio=str(tmp_path / "a.wav"),
        prompt="Transcribe.",
        answer="hi",
        transcript=None,
        task="asr",
        line=1,
        extra={"language": "en"},
    )
    assert conv.audio == str(tmp_path / "sub" / "b.wav")
    assert (conv.prompt, conv.answer, conv.transcript, conv.task) == (
        "What is said?",
        "hello there",
        "hello there",
        "qa",
    )
    assert conv.id == "m:2" and conv.line == 2
    assert (text.audio, text.task, text.prompt, text.answer) == (None, "text", "Tell a joke.", "No.")


def test_bad_lines_are_skipped_with_line_numbers(tmp_path, tone):
    tone("a.wav")
    good = {"audio": "a.wav", "prompt": "p", "answer": "a"}
    lines = [
        good,  # 1
        "{not json",  # 2
        {"audio": "missing.wav", "prompt": "p", "answer": "a"},  # 3
        {"audio": "a.wav", "answer": "a", "task": "qa"},  # 4 no prompt (only asr has a default)
        {"audio": "a.wav", "prompt": "p"},  # 5 no answer, no transcript
        {"wav": "a.wav", "prompt": "p", "answer": "a", "transcript": "t"},  # 6 misspelled audio key
        {"audio": "a.wav", "prompt": "p", "answer": "a", "duration": -1},  # 7
        [1, 2],  # 8 not an object
        {"conversations": [{"from": "user", "value": "q", "audio": "a.wav"}]},  # 9 one turn
        {"id": "x", **good},  # 10
        {"id": "x", **good},  # 11 duplicate id
        {"audio": "a.wav", "prompt": "p", "answer": "a", "transcript": " "},  # 12 empty transcript
        {"prompt": "p", "answer": "a", "task": "asr"},  # 13 audio task without audio
        {"prompt": "<audio> p", "answer": "a", "audio": None},  # 14 placeholder without audio
        "",  # 15 blank: ignored, not reported
        {"audio": 3, "prompt": "p", "answer": "a"},  # 16
    ]
    result = read_manifest(write_lines(tmp_path / "m.jsonl", lines))
    assert [s.line for s in result.samples] == [1, 10]
    reasons = {s.line: s.reason for s in result.skipped}
    assert sorted(reasons) == [2, 3, 4, 5, 6, 7, 8, 9, 11, 12, 13, 14, 16]
    assert "not valid JSON" in reasons[2]
    assert "missing.wav" in reasons[3] and "not found" in reasons[3]
    assert "'prompt'" in reasons[4]
    codes = {s.line: s.code for s in result.skipped}
    assert (codes[2], codes[3], codes[4], codes[11]) == (
        "not_json",
        "audio_not_found",
        "missing_field",
        "duplicate_id",
    )
    assert "'answer'" in reasons[5]
    assert "misspelled" in reasons[6]
    assert "duration" in reasons[7]
    assert "JSON object" in reasons[8]
    assert "1 turns" in reasons[9]
    assert "duplicate id 'x'" in reasons[11]
    assert "transcript" in reasons[12]
    assert "needs audio" in reasons[13]
    assert "placeholder" in reasons[14]
    assert "'audio'" in reasons[16]


def test_strict_names_file_and_line(tmp_path, tone):
    tone("a.wav")
    manifest = write_lines(
        tmp_path / "m.jsonl",
        [
            {"audio": "a.wav", "prompt": "p", "answer": "a"},
            {"audio": "nope.wav", "prompt": "p", "answer": "a"},
        ],
    )
    with pytest.raises(ManifestError, match=r"m\.jsonl:2: audio file not found"):
        read_manifest(manifest, strict=True)


def test_empty_manifest_is_an_error(tmp_path):
    with pytest.raises(ManifestError, match="no usable samples"):
        read_manifest(write_lines(tmp_path / "empty.jsonl", []))
    with pytest.raises(ManifestError, match=r"1 lines skipped; first: line 1"):
        read_manifest(write_lines(tmp_path / "bad.jsonl", ["{"]))
    with pytest.raises(ManifestError, match="no such manifest"):
        read_manifest(tmp_path / "absent.jsonl")


def test_binary_file_is_a_clear_error_and_a_non_utf8_line_is_skipped(tmp_path, tone):
    binary = tmp_path / "weights.jsonl"
    binary.write_bytes(b"PK\x03\x04\x14\x00\x08\x08\x08\x00\xf9\x8a" * 500)  # a zip, say
    with pytest.raises(ManifestError, match=r"no usable samples .*line 1: not UTF-8 text \(byte 0xf9 at column 11\)"):
        read_manifest(binary)
    tone("a.wav")
    mixed = tmp_path / "mixed.jsonl"
    good = json.dumps({"audio": "a.wav", "prompt": "p", "answer": "a"}).encode()
    mixed.write_bytes(good + b"\n" + b'{"audio": "a.wav", "prompt": "\xff"}\n')
    result = read_manifest(mixed)
    assert len(result.samples) == 1 and result.skipped[0].line == 2 and "not UTF-8" in result.skipped[0].reason


def test_asr_line_answers_with_its_transcript_and_defaults_apply(tmp_path, tone):
    tone("a.wav")
    lines = [
        {"audio": "a.wav", "transcript": "hello"},  # asr by default: the answer is the transcript
        {"audio": "a.wav", "transcript": "bonjour", "task": "st"},  # st needs an answer
        {"prompt": "Hi?", "answer": "Hello."},  # text-only: task "text", not the default task
    ]
    result = read_manifest(
        write_lines(tmp_path / "m.jsonl", lines), default_prompt="Transcribe: <audio>", default_task="asr"
    )
    asr, text = result.samples
    assert (asr.prompt, asr.answer, asr.transcript, asr.task) == ("Transcribe:", "hello", "hello", "asr")
    assert (text.task, text.audio) == ("text", None)
    assert [(s.line, "'answer'" in s.reason) for s in result.skipped] == [(2, True)]


def test_write_then_read_round_trip(tmp_path, tone):
    audio = str(tone("a.wav"))
    samples = [
        Sample("a", audio, "p", "ans", "tr", task="st", duration=0.5, line=1, extra={"lang": "fr"}),
        Sample("b", None, "q", "r", None, task="text", line=2),
    ]
    path = tmp_path / "out" / "m.jsonl"
    write_manifest(path, samples)
    assert read_manifest(path).samples == samples
    assert not list(path.parent.glob(".*tmp*"))  # the temporary file was renamed away


def test_flat_line_accepts_transcription_but_not_both(tmp_path, tone):
    tone("a.wav")
    lines = [
        {"audio": "a.wav", "transcription": "hi"},
        {"audio": "a.wav", "transcription": "hi", "transcript": "hi"},
    ]
    result = read_manifest(write_lines(tmp_path / "m.jsonl", lines))
    assert [(s.transcript, s.answer, s.extra) for s in result.samples] == [("hi", "hi", {})]
    assert "keep one" in result.skipped[0].reason
