"""`soundwave listen FILE|-` in-process on the tiny reference model: the captions of a live stream, then a question."""

from __future__ import annotations

import io
import json
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from soundwave.cli import main

REFERENCE = Path(__file__).parents[1] / "assets" / "soundwave-reference"
CLIP = str(REFERENCE / "audio" / "example_1.wav")
MODEL = ["--model", str(REFERENCE / "checkpoint")]


@pytest.fixture(scope="module")
def pipe():
    from soundwave.inference.pipeline import Pipeline

    return Pipeline.from_pretrained(str(REFERENCE / "checkpoint"))


def library_finals(pipe, wave: np.ndarray) -> list[str]:
    stream = pipe.listen()
    events = stream.feed(wave) + stream.finish()
    return [e.text for e in events if e.type == "final"]


def test_a_file_played_fast_then_asked_about(pipe, capsys):
    code = main(["listen", CLIP, "--fast", *MODEL, "--ask", "What is said?", "--greedy", "--max-new-tokens", "3"])
    out = capsys.readouterr().out
    assert code == 0
    lines = [line for line in out.splitlines() if line.startswith("[")]
    assert [line.split("] ", 1)[1] for line in lines] == library_finals(pipe, sf.read(CLIP, dtype="float32")[0])
    assert "\nQ: What is said?\nA: " in out


def test_raw_pcm_from_stdin_as_json_lines(pipe, capsys, monkeypatch):
    pcm = sf.read(CLIP, dtype="int16")[0]
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(pcm.astype("<i2").tobytes())))
    assert main(["listen", "-", "--jsonl", *MODEL]) == 0
    events = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert {e["type"] for e in events} == {"partial", "final"}
    finals = [e["text"] for e in events if e["type"] == "final"]
    assert finals == library_finals(pipe, pcm.astype(np.float32) / 32768)


def test_real_time_paces_the_pieces(monkeypatch):
    from soundwave.cli import listen

    clock = [0.0]
    monkeypatch.setattr(listen.time, "monotonic", lambda: clock[0])
    monkeypatch.setattr(listen.time, "sleep", lambda seconds: clock.__setitem__(0, clock[0] + seconds))
    pieces = list(listen.played(np.zeros(16_000 + 800, np.float32), fast=False))
    assert [p.shape[0] for p in pieces] == [3_200] * 5 + [800]
    assert clock[0] == pytest.approx(1.05)  # the last piece was heard 1.05 s in


def test_an_unreadable_file_fails_before_the_model_loads(tmp_path, capsys):
    (tmp_path / "broken.wav").write_bytes(b"not audio")
    assert main(["listen", str(tmp_path / "broken.wav"), "--model", str(tmp_path / "no-such-model")]) == 1
    assert "broken.wav" in capsys.readouterr().err
