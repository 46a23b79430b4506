"""Building a corpus end to end on the fast engines: manifests, wavs, determinism, resume, skipped sentences."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from soundwave.cli import main
from soundwave.data.manifest import read_manifest
from soundwave.synth import corpus as corpus_module
from soundwave.synth.corpus import build_corpus
from soundwave.synth.recipe import SPLITS, SynthRecipe, load_recipe
from soundwave.synth.voices import SynthesisError, get_voice

from .conftest import FAST_HELD_OUT, FAST_TRAIN, needs

pytestmark = needs(*FAST_TRAIN, *FAST_HELD_OUT)
FIELDS = ("id", "audio", "prompt", "answer", "transcript", "task", "duration", "speaker", "voice", "engine", "gender")


def _lines(out: Path, split: str) -> list[dict]:
    return [json.loads(line) for line in (out / f"{split}.jsonl").read_text().splitlines()]


def _wav_bytes(out: Path) -> dict[str, bytes]:
    return {str(p.relative_to(out)): p.read_bytes() for p in sorted(out.glob("audio/*/*.wav"))}


def test_build_writes_complete_manifests_and_16k_mono_speech(tiny_recipe: SynthRecipe, tmp_path: Path) -> None:
    report = build_corpus(tmp_path, tiny_recipe, workers=1, progress=False)
    assert report.failures == [] and report.rendered > 0
    for split in SPLITS:
        lines = _lines(tmp_path, split)
        assert len(lines) == tiny_recipe.num(split)
        for line in lines:
            assert all(key in line for key in FIELDS), line
            if line["audio"] is None:
                assert line["task"] == "text" and line["transcript"] is None
                continue
            assert line["gender"] == get_voice(line["voice"]).gender
            if line["task"] == "gender":
                assert line["answer"] == line["gender"]
            wave, rate = sf.read(tmp_path / line["audio"], dtype="float32")
            assert rate == 16000 and wave.ndim == 1 and np.abs(wave).max() > 0.05
            assert line["duration"] == pytest.approx(wave.size / 16000, abs=1e-3)
        assert len(read_manifest(tmp_path / f"{split}.jsonl", strict=True).samples) == len(lines)
    assert {line["voice"] for line in _lines(tmp_path, "test_heldout_voice")} <= set(FAST_HELD_OUT)
    assert not {line["voice"] for line in _lines(tmp_path, "train")} & set(FAST_HELD_OUT)
    record = json.loads((tmp_path / "corpus.json").read_text())
    assert record["seed"] == 7 and record["held_out_voices"] == list(FAST_HELD_OUT)
    assert record["counts"]["train"]["total"] == 8 and record["engine_versions"]["flite"]


def test_same_seed_gives_identical_corpus_and_parallel_matches_serial(tiny_recipe: SynthRecipe, tmp_path: Path) -> None:
    build_corpus(tmp_path / "a", tiny_recipe, workers=1, progress=False)
    build_corpus(tmp_path / "b", tiny_recipe, workers=2, progress=False)
    for split in SPLITS:
        assert (tmp_path / "a" / f"{split}.jsonl").read_text() == (tmp_path / "b" / f"{split}.jsonl").read_text()
    assert _wav_bytes(tmp_path / "a") == _wav_bytes(tmp_path / "b")


def test_resume_renders_only_what_is_missing(tiny_recipe: SynthRecipe, tmp_path: Path) -> None:
    build_corpus(tmp_path, tiny_recipe, workers=1, progress=False)
    before = _wav_bytes(tmp_path)
    manifest = (tmp_path / "train.jsonl").read_text()
    victim = tmp_path / _lines(tmp_path, "train")[0]["audio"] if _lines(tmp_path, "train")[0]["audio"] else None
    victim = victim or next(tmp_path.glob("audio/train/*.wav"))
    victim.unlink()
    stale = victim.parent / f".{victim.name}.tmp-abc123"  # what a kill during a write leaves
    stale.write_bytes(b"RIFF half a file")
    report = build_corpus(tmp_path, tiny_recipe, workers=1, progress=False)
    assert (report.rendered, report.reused) == (1, len(before) - 1)
    assert not stale.exists() and _wav_bytes(tmp_path) == before
    assert (tmp_path / "train.jsonl").read_text() == manifest
    again = build_corpus(tmp_path, tiny_recipe, workers=1, progress=False)
    assert again.rendered == 0


def test_a_failed_sentence_is_skipped_counted_and_reported(
    tiny_recipe: SynthRecipe, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_render = corpus_module.engines.render
    calls = {"n": 0}

    def flaky(voice, text, **kwargs):
        calls["n"] += 1
        if calls["n"] == 2:
            raise SynthesisError(f"{voice.id}: the engine produced silence for {text!r}")
        if calls["n"] == 3:
            raise RuntimeError("engine bug")
        return real_render(voice, text, **kwargs)

    monkeypatch.setattr(corpus_module.engines, "render", flaky)
    report = build_corpus(tmp_path, tiny_recipe, workers=1, progress=False)
    assert len(report.failures) == 2
    assert "silence" in report.failures[0]["reason"] and "RuntimeError" in report.failures[1]["reason"]
    failed = {f["id"] for f in report.failures}
    listed = {line["id"] for split in SPLITS for line in _lines(tmp_path, split)}
    assert not failed & listed
    assert sum(report.counts[s]["total"] for s in SPLITS) == 14 - 2
    assert {json.loads(x)["id"] for x in (tmp_path / "failures.jsonl").read_text().splitlines()} == failed
    assert "skipped 2 sentence(s)" in corpus_module.summary(report)


def test_cli_builds_and_prints_a_summary(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    config = tmp_path / "tiny.yaml"
    voices = "".join(f"  {v}: 1.0\n" for v in FAST_TRAIN)
    config.write_text(
        f"num_train: 20\nnum_valid: 5\nnum_test: 5\nvoices:\n{voices}held_out_voices: {list(FAST_HELD_OUT)}\n"
    )
    code = main(["data", "synth", "--out", str(tmp_path / "c"), "--config", str(config), "--num", "4",
                 "--seed", "3", "--workers", "1", "--tasks", "asr,gender", "-q"])  # fmt: skip
    assert code == 0
    out = capsys.readouterr().out
    assert "train: 4 samples" in out and "test_heldout_voice: 1 samples" in out
    assert {line["task"] for line in _lines(tmp_path / "c", "train")} <= {"asr", "gender"}


@pytest.mark.slow  # a real build in a subprocess, killed midway (~15-30 s, mostly importing torch twice)
def test_a_killed_build_resumes_to_the_same_corpus(tmp_path: Path) -> None:
    import os
    import signal
    import subprocess
    import sys
    import time

    config = tmp_path / "r.yaml"
    voices = "".join(f"  {v}: 1.0\n" for v in FAST_TRAIN)
    config.write_text(
        f"num_train: 60\nnum_valid: 4\nnum_test: 4\nvoices:\n{voices}held_out_voices: {list(FAST_HELD_OUT)}\n"
    )
    command = [sys.executable, "-m", "soundwave", "data", "synth", "--config", str(config), "--workers", "2", "-q"]
    killed = tmp_path / "killed"
    proc = subprocess.Popen([*command, "--out", str(killed)], start_new_session=True)
    deadline = time.monotonic() + 120
    while len(list(killed.glob("audio/*/*.wav"))) < 10 and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    assert not (killed / "train.jsonl").exists(), "the build finished before it could be killed"
    subprocess.run([*command, "--out", str(killed)], check=True, capture_output=True)
    clean = tmp_path / "clean"
    build_corpus(clean, load_recipe(config), workers=2, progress=False)
    for split in SPLITS:
        assert (killed / f"{split}.jsonl").read_text() == (clean / f"{split}.jsonl").read_text()
    assert _wav_bytes(killed) == _wav_bytes(clean)
    assert not list(killed.glob("audio/*/.*"))
