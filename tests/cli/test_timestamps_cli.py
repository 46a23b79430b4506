"""`soundwave transcribe --timestamps/--format/--plot` and `soundwave align`, in-process: once end to end on the
reference model, and the output formats on a stand-in pipeline with fixed words (the CLI only writes them out)."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
import srt
import webvtt

from soundwave.cli import main

REFERENCE = Path(__file__).parents[1] / "assets" / "soundwave-reference"
CLIPS = [str(REFERENCE / "audio" / name) for name in ("example_1.wav", "sense_and_sensibility_01_austen_64kb-0880.wav")]
FAST = ["--greedy", "--max-new-tokens", "5"]
PNG = b"\x89PNG\r\n\x1a\n"


TEXT = "He was not an ill disposed young man. Not at all."


class StubPipeline:
    """Answers every clip with TEXT, its words one every 0.4 s (what a Pipeline returns, without a model)."""

    def alignment(self, text: str = TEXT):
        from soundwave.alignment.result import Alignment
        from soundwave.alignment.segments import split_segments
        from soundwave.alignment.words import build_words, split_words

        words = build_words(
            tuple(split_words(text)), [(0.4 * i, 0.4 * i + 0.3, 0.9) for i in range(len(text.split()))], 6.0
        )
        return Alignment(text, tuple(words), tuple(split_segments(words, text)), duration=6.0)

    def transcribe_batch(self, items, timestamps=None, **options):
        from soundwave.inference.pipeline import Result

        alignment = self.alignment()
        words = list(alignment.words) if timestamps == "word" else None
        segments = list(alignment.segments) if timestamps else None
        return [Result(TEXT, audio_seconds=6.0, words=words, segments=segments) for _ in items]

    def align(self, audio, text):
        return self.alignment(text)


@pytest.fixture
def stub(monkeypatch):
    import soundwave.cli.align
    import soundwave.cli.transcribe

    for module in (soundwave.cli.transcribe, soundwave.cli.align):
        monkeypatch.setattr(module, "pipeline_from_args", lambda args: StubPipeline())


def test_transcribe_and_align_end_to_end(tmp_path, capsys):
    """The reference model: a JSON line with words for the transcript, and an aligned user text with its plot."""
    model = ["--model", str(REFERENCE / "checkpoint")]
    assert main(["transcribe", CLIPS[1], *model, *FAST, "--timestamps", "word"]) == 0
    row = json.loads(capsys.readouterr().out)
    assert {"file", "text", "error", "seconds", "words", "segments"} <= set(row)
    assert [w["word"] for w in row["words"]] == row["text"].split()
    text = "he was not an ill disposed young man"
    assert main(["align", CLIPS[1], text, *model, "--plot", str(tmp_path / "a.png")]) == 0
    row = json.loads(capsys.readouterr().out)
    assert row["text"] == text and [w["word"] for w in row["words"]] == text.split()
    assert row["segments"][0]["text"] == text
    assert (tmp_path / "a.png").read_bytes().startswith(PNG)


def test_jsonl_rows_keep_their_fields_and_add_words_and_segments(stub, tmp_path, capsys):
    plots = tmp_path / "plots"
    plots.mkdir()
    assert main(["transcribe", *CLIPS, *FAST, "--timestamps", "word", "--plot", str(plots)]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [r["file"] for r in rows] == CLIPS
    for row in rows:
        assert set(row) == {"file", "text", "error", "seconds", "words", "segments"}
        assert row["words"][1] == {"word": "was", "start": 0.4, "end": 0.7, "confidence": 0.9}
        assert [s["text"] for s in row["segments"]] == ["He was not an ill disposed young man.", "Not at all."]
        assert row["segments"][1] == {"id": 1, "start": 3.2, "end": 4.3, "text": "Not at all."}
    assert sorted(p.name for p in plots.iterdir()) == sorted(Path(c).stem + ".png" for c in CLIPS)
    assert (plots / "example_1.png").read_bytes().startswith(PNG)


def test_without_timestamps_rows_are_as_before(stub, capsys):
    assert main(["transcribe", CLIPS[0], *FAST]) == 0
    assert set(json.loads(capsys.readouterr().out)) == {"file", "text", "error", "seconds"}


def test_srt_for_one_file_and_vtt_for_several(stub, tmp_path, capsys):
    out = tmp_path / "clip.srt"
    assert main(["transcribe", CLIPS[1], *FAST, "--format", "srt", "-o", str(out)]) == 0
    cues = list(srt.parse(out.read_text()))
    assert [(c.index, c.start.total_seconds(), c.end.total_seconds()) for c in cues] == [(1, 0.0, 3.1), (2, 3.2, 4.3)]
    assert cues[1].content == "Not at all."
    folder = tmp_path / "vtt"
    folder.mkdir()
    assert main(["transcribe", *CLIPS, *FAST, "--format", "vtt", "-o", str(folder)]) == 0
    for clip in CLIPS:
        parsed = webvtt.read(str(folder / f"{Path(clip).stem}.vtt"))
        assert [(c.start, c.end, c.text) for c in parsed][1] == ("00:00:03.200", "00:00:04.300", "Not at all.")


def test_several_subtitle_files_need_a_folder(capsys, tmp_path):
    assert main(["transcribe", *CLIPS, "--format", "srt", "-o", str(tmp_path / "one.srt")]) == 1
    assert "existing folder" in capsys.readouterr().err


def test_align_reads_a_text_file(stub, tmp_path, capsys):
    (tmp_path / "t.txt").write_text("Not at all.\n")
    assert main(["align", CLIPS[1], str(tmp_path / "t.txt"), "--format", "vtt"]) == 0
    cues = list(webvtt.from_buffer(io.StringIO(capsys.readouterr().out)))
    assert [c.text for c in cues] == ["Not at all."]
    assert main(["align", CLIPS[1], str(tmp_path / "t.txt"), "--format", "json"]) == 0
    assert [w["word"] for w in json.loads(capsys.readouterr().out)["words"]] == ["Not", "at", "all."]
