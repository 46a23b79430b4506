"""The plain-Whisper baseline on a tiny random Whisper, directly and end to end through `soundwave eval`."""

import json
from pathlib import Path

import numpy as np
import pytest

import soundwave.cli
from soundwave.errors import ConfigError
from soundwave.eval.baseline import WhisperBaseline
from tests.eval.fakes import write_manifest


def test_generate_batch_isolates_a_bad_item(tiny_whisper: Path, wavs: dict) -> None:
    baseline = WhisperBaseline.from_pretrained(tiny_whisper)
    items = [
        {"audio": str(wavs["a"]), "prompt": "ignored"},
        {"audio": "/nonexistent/clip.wav", "prompt": "ignored"},
        {"audio": np.zeros(8000, dtype=np.float32), "prompt": "ignored"},
    ]
    results = baseline.generate_batch(items, max_new_tokens=4, do_sample=False)
    assert len(results) == 3
    assert results[1].error is not None and "no such audio file" in results[1].error
    for result in (results[0], results[2]):
        assert result.error is None and isinstance(result.text, str)
        assert 0 <= result.output_tokens <= 4
        assert result.input_tokens == 1500  # one 30 s window of encoder frames
        assert result.seconds > 0
    # the same clip alone decodes to the same text as inside the batch (greedy, padded to 30 s anyway)
    assert baseline.generate(str(wavs["a"]), max_new_tokens=4).text == results[0].text


def test_rejects_sampling(tiny_whisper: Path, wavs: dict) -> None:
    baseline = WhisperBaseline.from_pretrained(tiny_whisper)
    with pytest.raises(ConfigError, match="greedily"):
        baseline.generate_batch([{"audio": str(wavs["a"]), "prompt": ""}], do_sample=True)
    with pytest.raises(ConfigError, match="top_p"):
        baseline.generate_batch([{"audio": str(wavs["a"]), "prompt": ""}], top_p=0.9)


def _manifest(tmp_path: Path, wavs: dict) -> Path:
    lines = [
        {
            "id": n,
            "audio": f"{n}.wav",
            "prompt": "What does the person say?",
            "answer": "hello world",
            "transcript": "hello world",
            "task": "asr",
        }
        for n in "abc"
    ]
    return write_manifest(tmp_path / "m.jsonl", lines + ['{"audio": "a.wav"'])


def test_cli_baseline_end_to_end(tiny_whisper: Path, wavs: dict, tmp_path: Path, capsys) -> None:
    out = tmp_path / "out"
    code = soundwave.cli.main(
        [
            "eval",
            "--baseline",
            "whisper",
            "--model",
            str(tiny_whisper),
            "--data",
            str(_manifest(tmp_path, wavs)),
            "--task",
            "asr",
            "--output",
            str(out),
            "--batch-size",
            "2",
            "--max-new-tokens",
            "4",
            "--no-progress",
        ]
    )
    assert code == 0
    printed = capsys.readouterr().out
    assert "| wer (%) |" in printed and str(out) in printed
    summary = json.loads((out / "summary.json").read_text())
    assert summary["model"] == f"{tiny_whisper} (whisper baseline)"
    assert (summary["utterances"], summary["scored"], summary["failed"], summary["skipped"]) == (3, 3, 0, 1)
    assert summary["wer"] >= 0 and summary["rtfx"] > 0
    assert summary["generation"] == {"max_new_tokens": 4, "do_sample": False}
    assert len((out / "utterances.jsonl").read_text().splitlines()) == 3
    assert (out / "report.png").is_file() and (out / "report.md").is_file()


def test_cli_config_file_with_flag_override(tiny_whisper: Path, wavs: dict, tmp_path: Path) -> None:
    config = tmp_path / "eval.yaml"
    config.write_text(
        f"model: {tiny_whisper}\nbaseline: whisper\ndata: {_manifest(tmp_path, wavs)}\ntask: asr\n"
        f"output: {tmp_path / 'out'}\nmax_new_tokens: 3\nbatch_size: 4\n"
    )
    assert soundwave.cli.main(["eval", "--config", str(config), "--limit", "1", "--no-progress"]) == 0
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert summary["utterances"] == 1
    assert summary["generation"] == {"max_new_tokens": 3, "do_sample": False}


def test_cli_reports_config_errors(tmp_path: Path, capsys) -> None:
    config = tmp_path / "eval.yaml"
    config.write_text("model: m\ndata: d.jsonl\nbatchsize: 4\n")
    assert soundwave.cli.main(["eval", "--config", str(config)]) == 1
    assert "unknown key(s) ['batchsize']" in capsys.readouterr().err
    assert soundwave.cli.main(["eval", "--data", "d.jsonl"]) == 1
    assert "missing model" in capsys.readouterr().err
    assert soundwave.cli.main(["eval", "--baseline", "whisper", "--model", str(tmp_path), "--data", "x"]) == 1
    assert "x: no such manifest file" in capsys.readouterr().err  # the manifest is checked before any model loads
    import numpy as np
    import soundfile as sf

    sf.write(tmp_path / "a.wav", np.zeros(16000, dtype=np.float32), 16000)
    manifest = tmp_path / "m.jsonl"
    manifest.write_text(json.dumps({"audio": "a.wav", "prompt": "Transcribe.", "answer": "hi"}) + "\n")
    assert soundwave.cli.main(["eval", "--baseline", "whisper", "--model", str(tmp_path), "--data", str(manifest)]) == 1
    assert "config.json" in capsys.readouterr().err


def test_cli_soundwave_pipeline_end_to_end(wavs: dict, tmp_path: Path, capsys) -> None:
    """`soundwave eval` on a real Soundwave checkpoint (the release-format reference) through the Pipeline."""
    checkpoint = Path(__file__).parents[1] / "assets" / "soundwave-reference" / "checkpoint"
    out = tmp_path / "out"
    args = ["eval", "--model", str(checkpoint), "--data", str(_manifest(tmp_path, wavs)), "--task", "asr"]
    code = soundwave.cli.main([*args, "--output", str(out), "--max-new-tokens", "4", "--no-progress"])
    assert code == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["utterances"] >= 1 and summary["failed"] == 0
    assert 0.0 <= summary["wer"] and summary["rtfx"] > 0
    lines = (out / "utterances.jsonl").read_text().splitlines()
    assert len(lines) == summary["utterances"]
    assert (out / "report.md").is_file() and any(p.suffix == ".png" for p in out.iterdir())
