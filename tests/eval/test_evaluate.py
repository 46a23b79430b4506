"""evaluate() with a scripted fake pipeline: skipped lines, failures, batching, limits, every task."""

from pathlib import Path

import pytest

from soundwave.errors import ConfigError, ManifestError
from soundwave.eval import evaluate, metrics
from tests.eval.fakes import FakePipeline, write_manifest


def _line(audio: str, transcript: str, **extra: object) -> dict:
    return {
        "audio": audio,
        "prompt": "What does the person say?",
        "answer": transcript,
        "transcript": transcript,
        **extra,
    }


def test_asr_skips_bad_lines_and_counts_failures(tmp_path: Path, wavs: dict) -> None:
    manifest = write_manifest(
        tmp_path / "m.jsonl",
        [
            _line("a.wav", "Ten of clubs", id="u1"),  # line 1
            "{not json",  # line 2
            _line("missing.wav", "gone", id="u3"),  # line 3: no such file
            _line("b.wav", "he was not an ill disposed young man", id="u4"),  # line 4
            _line("c.wav", "will fail", id="u5"),  # line 5: the model fails on it
            {"audio": "d.wav", "prompt": "Is it a dog?", "answer": "yes", "task": "qa", "id": "u6"},  # line 6
        ],
    )
    fake = FakePipeline(
        {"a.wav": "10 of clubs.", "b.wav": "He was not an ill-disposed man", "c.wav": ("error", "boom")}
    )
    report = evaluate(fake, manifest, "asr", batch_size=2, progress=False)

    assert [s["line"] for s in report.skipped] == [2, 3, 6]
    assert "not valid JSON" in report.skipped[0]["reason"]
    assert "audio file not found" in report.skipped[1]["reason"]
    assert "task 'qa'" in report.skipped[2]["reason"]
    assert [u.id for u in report.utterances] == ["u1", "u4", "u5"]
    assert [u.id for u in report.failed] == ["u5"] and report.failed[0].error == "boom"
    assert fake.batches == [2, 1]

    # u1 matches after normalization; u4: "ill-disposed" -> "ill disposed", "young" deleted: 1 error / 8 words
    assert report.utterances[0].normalized_reference == "10 of clubs"
    assert report.utterances[0].score.word_errors.errors == 0
    assert report.utterances[1].score.word_errors == metrics.ErrorCounts(hits=7, deletions=1)
    assert report.metrics["wer"] == pytest.approx(1 / 11)
    summary = report.summary()
    assert (summary["utterances"], summary["scored"], summary["failed"], summary["skipped"]) == (3, 2, 1, 3)
    assert summary["word_errors"]["reference_length"] == 11
    assert summary["audio_seconds"] == pytest.approx(1 + 3 + 6)
    assert summary["primary_metric"] == "wer"
    assert summary["failures"] == [{"id": "u5", "line": 5, "error": "boom"}]
    assert any("1 utterance(s) failed" in note for note in summary["notes"])


def test_limit_and_batch_size(tmp_path: Path, wavs: dict) -> None:
    manifest = write_manifest(tmp_path / "m.jsonl", [_line(f"{n}.wav", "x y") for n in "abcd"])
    fake = FakePipeline({f"{n}.wav": "x y" for n in "abcd"})
    report = evaluate(fake, manifest, "asr", limit=3, batch_size=2, generation={"max_new_tokens": 7}, progress=False)
    assert len(report.utterances) == 3
    assert fake.batches == [2, 1]
    assert fake.generation == [{"do_sample": False, "max_new_tokens": 7}] * 2  # no transcribe_batch: greedy
    assert report.metrics["wer"] == 0.0


def test_a_raising_batch_fails_only_the_bad_item(tmp_path: Path, wavs: dict) -> None:
    manifest = write_manifest(tmp_path / "m.jsonl", [_line(f"{n}.wav", "x") for n in "abc"])
    fake = FakePipeline({"a.wav": "x", "b.wav": RuntimeError("decoder exploded"), "c.wav": "x"})
    report = evaluate(fake, manifest, "asr", batch_size=3, progress=False)
    assert fake.batches == [3, 1, 1, 1]  # the batch, then each item alone
    assert [u.error for u in report.utterances] == [None, "RuntimeError: decoder exploded", None]
    assert report.metrics["wer"] == 0.0


def test_config_errors_from_the_pipeline_are_not_swallowed(tmp_path: Path, wavs: dict) -> None:
    manifest = write_manifest(tmp_path / "m.jsonl", [_line("a.wav", "x")])
    fake = FakePipeline({"a.wav": ConfigError("no such generation option 'temp'")})
    with pytest.raises(ConfigError, match="temp"):
        evaluate(fake, manifest, "asr", progress=False)


def test_empty_manifest_is_an_error(tmp_path: Path) -> None:
    empty = tmp_path / "empty.jsonl"
    empty.write_text("\n")
    with pytest.raises(ManifestError, match="no usable samples"):
        evaluate(FakePipeline({}), empty, "asr", progress=False)
    with pytest.raises(ManifestError, match="no such manifest"):
        evaluate(FakePipeline({}), tmp_path / "nope.jsonl", "asr", progress=False)


def test_manifest_without_lines_of_the_task_is_an_error(tmp_path: Path, wavs: dict) -> None:
    manifest = write_manifest(tmp_path / "m.jsonl", [_line("a.wav", "x")])
    with pytest.raises(ManifestError, match="no line to evaluate for task 'st'"):
        evaluate(FakePipeline({}), manifest, "st", progress=False)


def test_bad_arguments(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="task"):
        evaluate(FakePipeline({}), tmp_path / "m.jsonl", "summarize", progress=False)
    with pytest.raises(ConfigError, match="batch_size"):
        evaluate(FakePipeline({}), tmp_path / "m.jsonl", "asr", batch_size=0, progress=False)


def test_qa_and_cls_scores(tmp_path: Path, wavs: dict) -> None:
    lines = [
        {"audio": "a.wav", "prompt": "Capital of France?", "answer": "Paris", "task": "qa"},
        {"audio": "b.wav", "prompt": "Which option?", "answer": "B", "task": "qa"},
        {"audio": "c.wav", "prompt": "Colour?", "answer": "blue", "task": "qa"},
    ]
    manifest = write_manifest(tmp_path / "qa.jsonl", lines)
    fake = FakePipeline({"a.wav": "Paris.", "b.wav": "The answer is B.", "c.wav": "Bluebird"})
    report = evaluate(fake, manifest, "qa", progress=False)
    assert report.metrics == {"exact_match": pytest.approx(1 / 3), "contains": pytest.approx(2 / 3)}
    assert [u.score.correct for u in report.utterances] == [True, False, False]

    for line in lines:
        line["task"] = "cls"
    report = evaluate(fake, write_manifest(tmp_path / "cls.jsonl", lines), "cls", progress=False)
    assert report.metrics["accuracy"] == pytest.approx(1 / 3)
    assert report.primary_metric == "accuracy"


def test_st_bleu_uses_raw_text(tmp_path: Path, wavs: dict) -> None:
    lines = [
        {
            "audio": "a.wav",
            "prompt": "Translate to German.",
            "answer": "Der Hund läuft schnell nach Hause.",
            "task": "st",
        },
        {
            "audio": "b.wav",
            "prompt": "Translate to German.",
            "answer": "Ich habe heute keine Zeit.",
            "task": "st",
        },
    ]
    hyps = {"a.wav": "Der Hund rennt schnell nach Hause.", "b.wav": "Ich habe heute keine Zeit."}
    report = evaluate(
        FakePipeline(hyps), write_manifest(tmp_path / "st.jsonl", lines), "st", language="de", progress=False
    )
    expected = metrics.bleu(list(hyps.values()), [line["answer"] for line in lines], language="de")
    assert report.metrics["bleu"] == pytest.approx(expected.score)
    assert 0 < report.metrics["bleu"] < 100
    assert report.details["bleu_signature"] == expected.signature


def test_eval_set_manifests_are_well_formed() -> None:
    from soundwave.data.manifest import read_manifest

    root = Path(__file__).parents[2] / "data" / "eval"
    for name in ("librivox", "cards"):
        result = read_manifest(root / f"{name}.jsonl", strict=True, check_audio=False)
        assert len(result.samples) == 5
        for sample in result.samples:
            assert sample.task == "asr" and sample.answer == sample.transcript
            assert sample.audio.startswith("/usr/share/pocketsphinx/test/data/")
            assert sample.prompt == "What does the person say?" and sample.duration > 0


def test_group_by_scores_each_value_apart(tmp_path: Path, wavs: dict) -> None:
    manifest = write_manifest(
        tmp_path / "m.jsonl",
        [
            _line("a.wav", "red cat", voice="flite"),
            _line("b.wav", "blue dog", voice="espeak"),
            _line("c.wav", "green fox", voice="espeak"),
            _line("d.wav", "white owl"),  # no voice
        ],
    )
    fake = FakePipeline({"a.wav": "red cat", "b.wav": "blue", "c.wav": "x y", "d.wav": "white owl"})
    report = evaluate(fake, manifest, "asr", progress=False, group_by="voice", output_dir=tmp_path / "out")
    assert report.groups["flite"] == {"wer": 0.0, "cer": 0.0, "utterances": 1}
    assert report.groups["espeak"]["wer"] == pytest.approx(3 / 4) and report.groups["espeak"]["utterances"] == 2
    assert report.groups["(none)"]["utterances"] == 1
    assert list(report.groups) == sorted(report.groups)
    assert report.metrics["wer"] == pytest.approx(3 / 8)  # the whole set is scored as before
    summary = report.summary()
    assert summary["group_by"] == "voice" and summary["groups"] == report.groups
    assert "## By voice" in (tmp_path / "out" / "report.md").read_text()
    assert '"group": "espeak"' in (tmp_path / "out" / "utterances.jsonl").read_text()
    assert "group_by" not in evaluate(fake, manifest, "asr", progress=False).summary()


def test_group_by_a_field_no_line_has_is_an_error(tmp_path: Path, wavs: dict) -> None:
    manifest = write_manifest(tmp_path / "m.jsonl", [_line("a.wav", "x", voice="flite")])
    with pytest.raises(ConfigError, match="'speaker'.*voice"):
        evaluate(FakePipeline({"a.wav": "x"}), manifest, "asr", progress=False, group_by="speaker")
