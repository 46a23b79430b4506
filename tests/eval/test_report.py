"""Report files: complete, consistent with each other, written atomically; side-by-side comparison table."""

import json
from pathlib import Path

import pytest

from soundwave.eval import compare_summaries, evaluate
from soundwave.eval.plot import duration_buckets
from soundwave.eval.report import REPORT_FILES
from tests.eval.fakes import FakePipeline, write_manifest


@pytest.fixture
def report_dir(tmp_path: Path, wavs: dict) -> Path:
    lines = [
        {"id": "u1", "audio": "a.wav", "prompt": "p", "answer": "the cat sat on the mat"},
        {"id": "u2", "audio": "b.wav", "prompt": "p", "answer": "hello world"},
        {"id": "u3", "audio": "c.wav", "prompt": "p", "answer": "a | pipe"},
        "[1, 2]",
        {"id": "u5", "audio": "d.wav", "prompt": "p", "answer": "never scored"},
    ]
    fake = FakePipeline(
        {
            "a.wav": "the cat sit on mat",
            "b.wav": "hello there world",
            "c.wav": "a | pipe",
            "d.wav": ("error", "out of memory"),
        }
    )
    out = tmp_path / "report"
    evaluate(fake, write_manifest(tmp_path / "m.jsonl", lines), "asr", output_dir=out, progress=False)
    return out


def test_report_files_complete_and_consistent(report_dir: Path) -> None:
    assert sorted(p.name for p in report_dir.iterdir()) == sorted(REPORT_FILES)  # no temp files left behind
    summary = json.loads((report_dir / "summary.json").read_text())
    rows = [json.loads(line) for line in (report_dir / "utterances.jsonl").read_text().splitlines()]

    assert [r["id"] for r in rows] == ["u1", "u2", "u3", "u5"]
    assert summary["utterances"] == len(rows) == summary["scored"] + summary["failed"]
    assert (summary["failed"], summary["skipped"]) == (1, 1)
    assert summary["skipped_lines"][0]["line"] == 4
    for key in ("model", "manifest", "task", "wer", "cer", "rtfx", "tokens_per_s", "normalizer"):
        assert key in summary, key
    assert summary["model"] == "fake-model" and summary["task"] == "asr"

    # corpus counts are the sums of the per-utterance counts, and WER follows from them
    scored = [r for r in rows if r["error"] is None]
    for kind in ("hits", "substitutions", "deletions", "insertions"):
        assert summary["word_errors"][kind] == sum(r["word_errors"][kind] for r in scored)
    errors = sum(summary["word_errors"][k] for k in ("substitutions", "deletions", "insertions"))
    assert summary["wer"] == pytest.approx(errors / summary["word_errors"]["reference_length"])
    assert summary["wer"] == pytest.approx(3 / 10)  # S1 D1 I1 over 6 + 2 + 2 words

    first = rows[0]
    assert first["reference"] == "the cat sat on the mat" and first["hypothesis"] == "the cat sit on mat"
    assert first["normalized_hypothesis"] == "the cat sit on mat"
    assert first["duration"] == pytest.approx(1.0) and first["wer"] == pytest.approx(2 / 6)
    failed = rows[3]
    assert failed["error"] == "out of memory" and "word_errors" not in failed

    markdown = (report_dir / "report.md").read_text()
    assert "| wer (%) | 30.00 |" in markdown
    assert "| failed | 1 |" in markdown
    assert "line 4:" in markdown and "out of memory" in markdown
    assert "![report.png](report.png)" in markdown
    assert (report_dir / "report.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_report_overwrites_cleanly(report_dir: Path, tmp_path: Path, wavs: dict) -> None:
    manifest = write_manifest(tmp_path / "m2.jsonl", [{"audio": "a.wav", "prompt": "p", "answer": "x"}])
    evaluate(FakePipeline({"a.wav": "x"}), manifest, "asr", output_dir=report_dir, progress=False)
    rows = (report_dir / "utterances.jsonl").read_text().splitlines()
    assert len(rows) == 1
    assert sorted(p.name for p in report_dir.iterdir()) == sorted(REPORT_FILES)


def test_compare_summaries_side_by_side() -> None:
    a = {
        "model": "whisper-tiny.en",
        "manifest": "/x/librivox.jsonl",
        "wer": 0.1,
        "cer": 0.05,
        "scored": 5,
        "failed": 0,
        "skipped": 0,
        "rtfx": 12.5,
        "tokens_per_s": 40.0,
    }
    b = {
        "model": "soundwave",
        "manifest": "/x/librivox.jsonl",
        "wer": 0.2,
        "cer": 0.04,
        "scored": 5,
        "failed": 0,
        "skipped": 0,
        "rtfx": None,
        "tokens_per_s": 10.0,
    }
    table = compare_summaries([a, b]).splitlines()
    assert table[0] == "| metric | whisper-tiny.en (librivox) | soundwave (librivox) |"
    assert table[1] == "|---|---|---|"
    assert "| wer (%) | **10.00** | 20.00 |" in table  # lower WER wins
    assert "| cer (%) | 5.00 | **4.00** |" in table
    assert "| rtfx | 12.50 | - |" in table
    assert "bleu" not in "\n".join(table)
    assert compare_summaries([a], metrics=["wer"], labels=["tiny"]).splitlines()[2] == "| wer (%) | 10.00 |"


def test_duration_buckets(report_dir: Path) -> None:
    from soundwave.eval.report import Utterance
    from soundwave.eval.scoring import UtteranceScore

    def utt(seconds: float | None) -> Utterance:
        return Utterance("i", 1, "a", "p", "r", "h", "r", "h", seconds, UtteranceScore())

    groups = duration_buckets([utt(1.0), utt(2.0), utt(4.9), utt(45.0), utt(None)])
    assert [(name, len(members)) for name, members in groups] == [
        ("0-2 s", 1),
        ("2-5 s", 2),
        (">= 30 s", 1),
        ("unknown", 1),
    ]
