"""`--task align`: word matching, timing metrics on hand-computed cases, the report, and the command end to end."""

import json
from pathlib import Path

import pytest

import soundwave.cli
from soundwave.alignment.result import Alignment, Word
from soundwave.errors import ConfigError, ManifestError
from soundwave.eval.align import evaluate_alignment
from soundwave.eval.config import build_eval_config
from soundwave.eval.timing import match_words, timing_metrics, word_timings
from tests.eval.fakes import write_manifest

REFERENCE = [
    {"word": "The", "start": 0.20, "end": 0.30},
    {"word": "fox", "start": 0.30, "end": 0.70},
    {"word": "is", "start": 0.70, "end": 0.85},
    {"word": "here.", "start": 0.85, "end": 1.30},
]


def words(*spans, names=("The", "fox", "is", "here."), interpolated=()):
    return [Word(n, a, b, 1.0, n in interpolated) for n, (a, b) in zip(names, spans, strict=True)]


def test_match_words_in_order_despite_case_punctuation_and_errors():
    assert match_words(["The", "fox", "is", "here."], ["the", "fox", "is", "here"]) == [0, 1, 2, 3]
    assert match_words(["The", "fox", "is", "here."], ["a", "fox", "here"]) == [0, 1, None, 2]  # "is" missed
    assert match_words(["a", "b"], ["x", "a", "b"]) == [1, 2]  # an inserted word shifts nothing
    assert match_words("a b c d e".split(), "x b c e f".split()) == [0, 1, 2, None, 3]  # matches before pairs


def test_repeated_text_matches_each_word_to_its_own_repetition():
    reference = "the fox is here . the fox is here . the fox is here".split()
    heard = reference[1:7] + ["there"] + reference[8:]  # misses the first word, mishears one
    matched = match_words(reference, heard)
    assert matched[0] is None and matched[1:7] == list(range(6)) and matched[7] == 6
    assert matched[8:] == list(range(7, len(heard)))


def test_timing_metrics_by_hand():
    placed = word_timings(REFERENCE, words((0.22, 0.33), (0.36, 0.60), (0.90, 0.95), (0.85, 1.50)))
    metrics = timing_metrics(placed)
    # start errors 20, 60, 200, 0 ms; end errors 30, 100, 100, 200 ms
    assert metrics["start_median_ms"] == pytest.approx(40) and metrics["start_mean_ms"] == pytest.approx(70)
    assert metrics["end_median_ms"] == pytest.approx(100) and metrics["end_mean_ms"] == pytest.approx(107.5)
    assert metrics["start_within_50ms"] == 0.5 and metrics["start_within_100ms"] == 0.75
    assert metrics["start_within_200ms"] == 1.0 and metrics["end_within_100ms"] == 0.75
    assert metrics["not_placed"] == 0


def test_missing_and_interpolated_words_are_not_placed():
    missed = word_timings(REFERENCE, words((0.2, 0.3), (0.3, 0.7), (0.85, 1.3), names=("The", "fox", "here")))
    interpolated = word_timings(REFERENCE, words((0.2, 0.3), (0.3, 0.7), (0.7, 0.8), (0.85, 1.3), interpolated="is"))
    for timings in (missed, interpolated):
        metrics = timing_metrics(timings)
        assert metrics["not_placed"] == 1 and metrics["placed"] == 3
        assert metrics["start_within_50ms"] == 0.75  # the unplaced word counts as outside every tolerance
        assert metrics["start_median_ms"] == pytest.approx(0)


class ShiftedAligner:
    """Places every reference word 30 ms late (reads the truth from the manifest it is given)."""

    name = "shifted"

    def __init__(self, truth: dict[str, list[dict]]) -> None:
        self.truth = truth

    def align(self, audio, text):
        truth = self.truth[Path(audio).name]
        placed = tuple(Word(w["word"], w["start"] + 0.03, w["end"] + 0.03, 0.9) for w in truth)
        return Alignment(text, placed, (), duration=2.0, seconds=0.01)


def _manifest(tmp_path: Path, wavs: dict) -> Path:
    lines = [
        {"id": "a", "audio": "a.wav", "transcript": "The fox is here.", "words": REFERENCE},
        {"id": "b", "audio": "b.wav", "transcript": "The fox is here.", "words": REFERENCE[:2]},
        {"id": "c", "audio": "c.wav", "transcript": "no times here"},
        {"id": "d", "audio": "d.wav", "transcript": "bad", "words": [{"word": "bad", "start": 1.0, "end": 0.5}]},
    ]
    return write_manifest(tmp_path / "m.jsonl", lines)


def test_evaluate_alignment_writes_its_report(tmp_path, wavs):
    manifest = _manifest(tmp_path, wavs)
    truth = {"a.wav": REFERENCE, "b.wav": REFERENCE[:2]}
    report = evaluate_alignment(ShiftedAligner(truth), manifest, output_dir=tmp_path / "out", progress=False)
    summary = report.summary()
    assert summary["words"] == 6 and summary["scored"] == 2 and summary["skipped"] == 2
    assert summary["start_median_ms"] == pytest.approx(30) and summary["start_within_50ms"] == 1.0
    assert summary["start_within_100ms"] == 1.0 and summary["not_placed"] == 0
    reasons = " ".join(s["reason"] for s in summary["skipped_lines"])
    assert "no 'words'" in reasons and "words[0]" in reasons
    files = {p.name for p in (tmp_path / "out").iterdir()}
    assert {"utterances.jsonl", "summary.json", "report.md", "report.png", "alignment.png"} <= files
    rows = [json.loads(line) for line in (tmp_path / "out" / "utterances.jsonl").read_text().splitlines()]
    assert rows[0]["words"][1]["start_error"] == pytest.approx(0.03)
    assert "starts within 100 ms (%) | 100.0" in (tmp_path / "out" / "report.md").read_text()


def test_no_usable_line_and_bad_source(tmp_path, wavs):
    manifest = write_manifest(tmp_path / "m.jsonl", [{"audio": "a.wav", "transcript": "hi"}])
    with pytest.raises(ManifestError, match="reference word times"):
        evaluate_alignment(ShiftedAligner({}), manifest, progress=False)
    with pytest.raises(ConfigError, match="align_source"):
        evaluate_alignment(ShiftedAligner({}), manifest, source="magic", progress=False)
    assert build_eval_config({"task": "align", "align_source": "transcript"}).align_source == "transcript"
    with pytest.raises(ConfigError, match="align_source"):
        build_eval_config({"task": "align", "align_source": "both"})


def test_cli_eval_align_on_the_reference_model(tmp_path, wavs, capsys):
    """`soundwave eval --task align` end to end: the reference model (random, so only the wiring is checked)."""
    manifest = write_manifest(
        tmp_path / "m.jsonl", [{"id": "a", "audio": "a.wav", "transcript": "The fox is here.", "words": REFERENCE}]
    )
    checkpoint = Path(__file__).parents[1] / "assets" / "soundwave-reference" / "checkpoint"
    out = tmp_path / "out"
    argv = ["eval", "--task", "align", "--model", str(checkpoint), "--data", str(manifest), "--output", str(out)]
    assert soundwave.cli.main([*argv, "--no-progress"]) == 0
    printed = capsys.readouterr().out
    assert "start error, median (ms)" in printed and f"report: {out}" in printed
    summary = json.loads((out / "summary.json").read_text())
    assert summary["task"] == "align" and summary["words"] == 4 and summary["not_placed"] == 0
