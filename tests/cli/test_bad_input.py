"""Bad command-line input is a one-line `error:` and exit status 1, found before any model loads (the model named
here does not exist: an error about anything else proves the check came first)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from soundwave.cli import main

REFERENCE = Path(__file__).parents[1] / "assets" / "soundwave-reference"
CLIP = str(REFERENCE / "audio" / "example_1.wav")
NO_MODEL = ["--model", "/nonexistent/model"]


def one_line_error(capsys, argv: list[str]) -> str:
    assert main(argv) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: "), err
    return err[0]


@pytest.mark.parametrize(
    ("flags", "words"),
    [
        (["--seed", "18446744073709551616"], "seed: expected a value in [0, 9223372036854775807]"),
        (["--seed", "-1"], "seed"),
        (["--temperature", "1e-46"], "temperature"),
        (["--repetition-penalty", "1e-46"], "repetition_penalty"),
        (["--stop", "a\udcffb"], "stop[0]: character 1 ('\\udcff') is a lone surrogate"),  # a non-UTF-8 argv byte
    ],
)
def test_decoding_options_are_checked_before_the_model_loads(capsys, flags, words):
    for command in (["ask", CLIP], ["transcribe", CLIP], ["chat"]):
        assert words in one_line_error(capsys, [*command, *NO_MODEL, *flags])


def test_transcribe_output_is_checked_before_the_model_loads(capsys, tmp_path):
    assert "is a directory; give a file name" in one_line_error(
        capsys, ["transcribe", CLIP, *NO_MODEL, "-o", str(tmp_path)]
    )
    missing = tmp_path / "nope" / "out.jsonl"
    assert f"the folder {missing.parent} does not exist" in one_line_error(
        capsys, ["transcribe", CLIP, *NO_MODEL, "-o", str(missing)]
    )
    assert "--batch-size" in one_line_error(capsys, ["transcribe", CLIP, *NO_MODEL, "--batch-size", "0"])


def test_eval_output_and_manifest_are_checked_before_the_model_loads(capsys, tmp_path):
    manifest = tmp_path / "m.jsonl"
    manifest.write_text(json.dumps({"audio": CLIP, "transcript": "x", "task": "asr"}) + "\n")
    a_file = tmp_path / "report.txt"
    a_file.write_text("")
    eval_flags = ["eval", *NO_MODEL, "--task", "asr", "--no-progress"]
    error = one_line_error(capsys, [*eval_flags, "--data", str(manifest), "--output", str(a_file / "run")])
    assert f"is under {a_file}, which is a file" in error
    binary = tmp_path / "model.safetensors"
    binary.write_bytes(b"\x89\xf9\x00\x01" * 100)
    error = one_line_error(capsys, [*eval_flags, "--data", str(binary), "--output", str(tmp_path / "r")])
    assert "not UTF-8 text" in error


def test_train_output_dir_that_is_a_file_is_refused_before_the_models_load(capsys, tmp_path):
    a_file = tmp_path / "run"
    a_file.write_text("")
    config = Path(__file__).parents[2] / "configs" / "mini" / "stage1_align.yaml"
    error = one_line_error(capsys, ["train", str(config), f"training.output_dir={a_file}"])
    assert f"training.output_dir {a_file}: is a file" in error


def test_bad_prompts_and_audio_paths(capsys, tmp_path):
    model = ["--model", str(REFERENCE / "checkpoint"), "--max-new-tokens", "2"]
    assert "lone surrogate" in one_line_error(capsys, ["ask", CLIP, "a\udcffb", *model])
    assert "'<audio_patch>', which marks where a recording goes" in one_line_error(
        capsys, ["ask", CLIP, "say <audio_patch>", *model]
    )
    assert f"{tmp_path}: is a directory, not an audio file" in one_line_error(capsys, ["ask", str(tmp_path), *model])


def test_transcribe_exits_1_when_any_file_fails(capsys, tmp_path):
    """The rule (in `soundwave transcribe --help`): every file gets its line; exit 1 if any failed, else 0."""
    out = tmp_path / "t.jsonl"
    model = ["--model", str(REFERENCE / "checkpoint"), "--max-new-tokens", "2", "-o", str(out)]
    assert main(["transcribe", CLIP, str(tmp_path / "missing.wav"), *model]) == 1
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert [line["error"] is None for line in lines] == [True, False] and "missing.wav" in lines[1]["error"]
    assert "1 of 2 files failed" in capsys.readouterr().err
    assert main(["transcribe", CLIP, *model]) == 0
