"""`soundwave chat` reads prompts from stdin: text turns, /audio attachments, /reset, errors that keep it going."""

import io
from pathlib import Path

from soundwave.cli import main

REFERENCE = Path(__file__).parents[1] / "assets" / "soundwave-reference"


def test_chat_session(monkeypatch, capsys, tmp_path):
    clip = REFERENCE / "audio" / "example_1.wav"
    script = f"Hello\n/audio {clip}\nWhat is said?\n/audio {tmp_path / 'missing.wav'}\n/reset\n/quit\n"
    monkeypatch.setattr("sys.stdin", io.StringIO(script))
    args = ["chat", "--model", str(REFERENCE / "checkpoint"), "--greedy", "--max-new-tokens", "3"]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert f"(attached {clip})" in out
    assert "error:" in out and "missing.wav" in out
    assert "(conversation reset)" in out
    answers = [line for line in out.splitlines() if line and not line.startswith(("(", "error"))]
    assert len(answers) == 2  # one per prompt
