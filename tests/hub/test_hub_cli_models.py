"""`soundwave models list | prepare`: the table, the printed path and the error exit."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from soundwave.cli import models as models_cli
from soundwave.errors import ModelNotFoundError


def _run(argv: list[str]) -> int:
    """Parse with only the `models` subcommand registered (other subcommands are not this test's business)."""
    parser = argparse.ArgumentParser(prog="soundwave")
    models_cli.register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(argv)
    return args.handler(args)


@pytest.fixture(autouse=True)
def _wide_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "300")  # rich folds long cells at the default 80 columns


def test_list_prints_every_known_model(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert _run(["models", "list", "--cache-dir", str(tmp_path)]) == 0

    out = capsys.readouterr().out
    for name in ("whisper-tiny.en", "whisper-base", "smollm2-135m-instruct"):
        assert name in out


def test_prepare_prints_the_folder_last(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    calls = []

    def fake_prepare(name: str, cache=None, force: bool = False, progress: bool = True) -> Path:
        calls.append((name, cache, force, progress))
        return Path(cache) / name

    monkeypatch.setattr("soundwave.hub.prepare_model", fake_prepare)
    assert _run(["models", "prepare", "whisper-base", "--cache-dir", str(tmp_path), "--force", "--quiet"]) == 0

    assert capsys.readouterr().out.splitlines()[-1] == str(tmp_path / "whisper-base")
    assert calls == [("whisper-base", str(tmp_path), True, False)]


def test_prepare_converts_and_prints_the_path_last(fake_model, capsys: pytest.CaptureFixture[str]) -> None:
    assert _run(["models", "prepare", fake_model.name, "--cache-dir", str(fake_model.cache)]) == 0

    captured = capsys.readouterr()
    assert captured.out.splitlines()[-1] == str(fake_model.cache / fake_model.name)
    assert f"prepare {fake_model.name}" in captured.err  # the progress bar goes to stderr
    assert _run(["models", "list", "--cache-dir", str(fake_model.cache)]) == 0
    assert str(fake_model.cache / fake_model.name) in capsys.readouterr().out


def test_prepare_unknown_name_raises_a_soundwave_error(tmp_path: Path) -> None:
    with pytest.raises(ModelNotFoundError, match="Known models"):  # cli.main turns it into "error: ..." + exit 1
        _run(["models", "prepare", "nope", "--cache-dir", str(tmp_path)])
