"""Real pretrained weights from pip packages, prepared through the registry (slow: ~2 min on 2 CPU cores).

Skipped, with the pip command, where a weight package is not installed. Speech: 5 LibriVox utterances in
tests/assets/speech/librivox (public domain).
"""

from __future__ import annotations

import json
from pathlib import Path

import jiwer
import pytest
import torch
from whisper_normalizer.english import EnglishTextNormalizer

from soundwave.audio import load_audio
from soundwave.hub import MODELS, prepare_model
from soundwave.hub.packages import locate

pytestmark = pytest.mark.slow

LIBRIVOX = Path(__file__).parents[1] / "assets" / "speech" / "librivox"
MAX_WER = 0.10


@pytest.fixture(scope="module")
def cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("models")


def _prepared(name: str, cache: Path) -> Path:
    spec = MODELS[name]
    if spec.missing_requirements():
        pytest.skip(f"{name} weights are not installed: {spec.pip_command}")
    return prepare_model(name, cache=cache, progress=False)


def _librivox() -> tuple[list, list[str]]:
    rows = [json.loads(line) for line in (LIBRIVOX / "manifest.jsonl").read_text().splitlines()]
    return [load_audio(LIBRIVOX / row["audio"]) for row in rows], [row["transcript"] for row in rows]


def _wer(references: list[str], hypotheses: list[str]) -> float:
    normalize = EnglishTextNormalizer()
    return jiwer.wer([normalize(t) for t in references], [normalize(t) for t in hypotheses])


@pytest.mark.parametrize(("name", "generate_kwargs"), [("whisper-tiny.en", {}), ("whisper-base", {"language": "en"})])
def test_converted_whisper_transcribes_librivox(name: str, generate_kwargs: dict, cache: Path) -> None:
    from transformers import WhisperForConditionalGeneration, WhisperProcessor

    folder = _prepared(name, cache)
    model = WhisperForConditionalGeneration.from_pretrained(folder).eval()
    processor = WhisperProcessor.from_pretrained(folder)
    audio, references = _librivox()

    features = processor(audio, sampling_rate=16_000, return_tensors="pt").input_features  # (5, 80, 3000)
    with torch.no_grad():
        tokens = model.generate(features, **generate_kwargs)
    hypotheses = processor.batch_decode(tokens, skip_special_tokens=True)

    wer = _wer(references, hypotheses)
    assert wer <= MAX_WER, f"{name}: WER {wer:.1%} > {MAX_WER:.0%}: {hypotheses}"
    if model.generation_config.is_multilingual:
        language = model.detect_language(features[:1])
        assert processor.tokenizer.convert_ids_to_tokens(language.tolist()) == ["<|en|>"]


def test_converted_smollm2_matches_gguf_and_answers(cache: Path) -> None:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    folder = _prepared("smollm2-135m-instruct", cache)
    model = AutoModelForCausalLM.from_pretrained(folder).eval()
    tokenizer = AutoTokenizer.from_pretrained(folder)
    gguf = locate(MODELS["smollm2-135m-instruct"].weights[0])
    reference = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name).eval()

    messages = [{"role": "user", "content": "What is the capital of France?"}]
    inputs = tokenizer.apply_chat_template(messages, add_generation_prompt=True, return_tensors="pt", return_dict=True)
    with torch.no_grad():
        torch.testing.assert_close(model(**inputs).logits, reference(**inputs).logits, rtol=0, atol=1e-5)
        output = model.generate(**inputs, max_new_tokens=24, do_sample=False)
    answer = tokenizer.decode(output[0, inputs["input_ids"].shape[1] :], skip_special_tokens=True)

    assert "Paris" in answer, answer
    assert output[0, -1] == tokenizer.eos_token_id, "generation did not stop at the end of the turn"
