"""Compact checkpoints (only what training changed) and the export to a full standalone checkpoint."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch
from safetensors import safe_open
from transformers import AutoModelForCausalLM, AutoTokenizer

from soundwave.errors import CheckpointError
from soundwave.model.builder import ModelSpec, build_from_spec
from soundwave.model.compact import export_released, is_compact, load_compact, save_compact
from soundwave.model.lora import LoraSpec, has_lora
from soundwave.model.soundwave import SoundwaveForCausalLM
from soundwave.model.speechllm import SpeechLLM
from soundwave.prompts import release_prompt_ids
from tests.model.test_builder import MEL_WINDOW, bases  # noqa: F401  (session fixture: tiny base models)

LORA = LoraSpec(r=4, alpha=8.0, dropout=0.0)


def spec_for(bases, adapter: str) -> ModelSpec:  # noqa: F811
    if adapter == "soundwave":
        return ModelSpec(encoder=str(bases("whisper")), llm=str(bases("llm")), lora=LORA, adapter_dropout=0.0)
    return ModelSpec(
        encoder=str(bases("wavlm")),
        llm=str(bases("llm_tied")),
        adapter="speechllm",
        lora=LORA,
        projector_hidden_size=48,
    )


def trained(spec: ModelSpec):
    """A built model whose trainable tensors (adapters, LoRA) moved away from their initial values."""
    model, tokenizer, extractor = build_from_spec(spec)
    with torch.no_grad():
        for param in model.parameters():
            if param.requires_grad:
                param.add_(torch.randn_like(param) * 0.1)
    return model, tokenizer, extractor


def inputs(model, tokenizer) -> dict:
    placeholder = "<audio_patch>" if isinstance(model, SoundwaveForCausalLM) else "<audio>"
    ids = torch.tensor([release_prompt_ids(tokenizer, "hello")]) if placeholder == "<audio_patch>" else None
    if ids is None:
        ids = torch.tensor([tokenizer(f"{placeholder}\nhello").input_ids])
    if isinstance(model, SoundwaveForCausalLM):
        return {"input_ids": ids, "audios": torch.randn(1, 80, MEL_WINDOW)}
    return {"input_ids": ids, "audios": torch.randn(1, 1500), "audio_lengths": torch.tensor([1500])}


def logits(model, batch: dict) -> torch.Tensor:
    with torch.no_grad():
        return model(**batch).logits


@pytest.mark.parametrize("adapter", ["soundwave", "speechllm"])
def test_compact_round_trip_gives_identical_logits(bases, tmp_path, adapter):  # noqa: F811
    spec = spec_for(bases, adapter)
    model, tokenizer, extractor = trained(spec)
    batch = inputs(model, tokenizer)
    expected = logits(model, batch)
    save_compact(model, tokenizer, extractor, tmp_path / "ckpt", spec)
    assert is_compact(tmp_path / "ckpt")
    loaded, loaded_tokenizer, loaded_extractor = load_compact(tmp_path / "ckpt")
    assert torch.equal(logits(loaded, batch), expected)
    assert loaded_tokenizer.get_vocab() == tokenizer.get_vocab()
    assert type(loaded_extractor) is type(extractor)


def test_compact_round_trip_keeps_the_posterior_gate(bases, tmp_path):  # noqa: F811
    spec = dataclasses.replace(spec_for(bases, "soundwave"), mode="paper", posterior_embeds=True)
    model, tokenizer, extractor = trained(spec)
    assert model.shrink_adapter.mix.gate.abs().sum() > 0  # trainable, so `trained` moved it
    batch = inputs(model, tokenizer)
    save_compact(model, tokenizer, extractor, tmp_path / "ckpt", spec)
    loaded, _, _ = load_compact(tmp_path / "ckpt")
    assert loaded.config.posterior_embeds
    assert torch.equal(loaded.shrink_adapter.mix.gate, model.shrink_adapter.mix.gate)
    assert torch.equal(logits(loaded, batch), logits(model, batch))


def test_compact_holds_only_what_training_changed(bases, tmp_path):  # noqa: F811
    spec = spec_for(bases, "soundwave")
    model, tokenizer, extractor = trained(spec)
    save_compact(model, tokenizer, extractor, tmp_path / "ckpt", spec)
    with safe_open(str(tmp_path / "ckpt" / "weights.safetensors"), framework="pt") as handle:
        keys = set(handle.keys())
        added = handle.get_tensor("added_rows.input_embeddings")
    assert added.shape == (1, 32)  # the <audio_patch> row
    assert {k for k in keys if k.startswith("llm.")} == {k for k in keys if ".lora_" in k}  # LoRA only
    assert not any(k.startswith("audio_encoder.") for k in keys)
    assert "align_adapter.ctc_head.weight" not in keys  # rebuilt from the embeddings
    assert {"align_adapter.proj.weight", "shrink_adapter.lookback.attn.in_proj_weight"} <= keys
    assert sorted(p.name for p in (tmp_path / "ckpt").iterdir()) == [
        "chat_template.jinja", "model.yaml", "preprocessor_config.json", "tokenizer.json", "tokenizer_config.json",
        "weights.safetensors",
    ]  # fmt: skip


def test_compact_keeps_base_tensors_that_train(bases, tmp_path):  # noqa: F811
    spec = spec_for(bases, "speechllm")
    model, tokenizer, extractor = trained(spec)
    layer_norm = model.encoder.model.encoder.layers[0].layer_norm
    layer_norm.weight.requires_grad_(True)
    with torch.no_grad():
        layer_norm.weight.mul_(1.5)
    batch = inputs(model, tokenizer)
    save_compact(model, tokenizer, extractor, tmp_path / "one", spec)
    loaded, _, _ = load_compact(tmp_path / "one")
    assert torch.equal(logits(loaded, batch), logits(model, batch))
    # frozen again in the next stage, the override is still carried forward
    save_compact(loaded, tokenizer, extractor, tmp_path / "two", spec)
    again, _, _ = load_compact(tmp_path / "two")
    assert torch.equal(again.encoder.model.encoder.layers[0].layer_norm.weight, layer_norm.weight)


@pytest.mark.parametrize("adapter", ["soundwave", "speechllm"])
def test_export_released_loads_with_auto_model(bases, tmp_path, adapter):  # noqa: F811
    model, tokenizer, extractor = trained(spec_for(bases, adapter))
    batch = inputs(model, tokenizer)
    expected = logits(model, batch)
    export_released(model, tokenizer, extractor, tmp_path / "export")
    assert has_lora(model.llm)  # the model keeps its LoRA layers
    assert torch.equal(logits(model, batch), expected)
    loaded = AutoModelForCausalLM.from_pretrained(tmp_path / "export").eval()
    assert isinstance(loaded, SoundwaveForCausalLM if adapter == "soundwave" else SpeechLLM)
    assert not has_lora(loaded)
    torch.testing.assert_close(logits(loaded, batch), expected, atol=1e-4, rtol=1e-4)  # merged: W + BA rounding
    assert AutoTokenizer.from_pretrained(tmp_path / "export").get_vocab() == tokenizer.get_vocab()
    assert (tmp_path / "export" / "preprocessor_config.json").is_file()
    assert not is_compact(tmp_path / "export")


def test_export_released_soundwave_with_tied_embeddings(bases, tmp_path):  # noqa: F811
    spec = ModelSpec(encoder=str(bases("whisper")), llm=str(bases("llm_tied")), lora=LORA, adapter_dropout=0.0)
    model, tokenizer, extractor = trained(spec)
    batch = inputs(model, tokenizer)
    export_released(model, tokenizer, extractor, tmp_path / "export")
    loaded = AutoModelForCausalLM.from_pretrained(tmp_path / "export").eval()
    torch.testing.assert_close(logits(loaded, batch), logits(model, batch), atol=1e-4, rtol=1e-4)


def test_load_compact_rejects_other_directories(tmp_path):
    with pytest.raises(CheckpointError, match="not a compact checkpoint"):
        load_compact(tmp_path)
    (tmp_path / "model.yaml").write_text("format: soundwave-compact\nformat_version: 99\n")
    with pytest.raises(CheckpointError, match="format_version 99"):
        load_compact(tmp_path)


def test_save_compact_checks_the_spec(bases, tmp_path):  # noqa: F811
    model, tokenizer, extractor = trained(spec_for(bases, "soundwave"))
    with pytest.raises(CheckpointError, match="adapter 'speechllm' but the model is a SoundwaveForCausalLM"):
        save_compact(model, tokenizer, extractor, tmp_path / "x", spec_for(bases, "speechllm"))


def test_pipeline_answers_from_a_compact_speechllm(bases, tmp_path):  # noqa: F811
    from soundwave.inference.pipeline import Pipeline

    spec = spec_for(bases, "speechllm")
    model, tokenizer, extractor = trained(spec)
    save_compact(model, tokenizer, extractor, tmp_path / "ckpt", spec)
    pipe = Pipeline.from_pretrained(str(tmp_path / "ckpt"))
    assert pipe.processor.input_kind == "waveform" and pipe.processor.placeholder == "<audio>"
    rng = np.random.default_rng(0)
    items = [(0.1 * rng.standard_normal(n).astype(np.float32), p) for n, p in [(1600, "hi"), (900, "what is said?")]]
    batched = pipe.generate_batch(items, greedy=True, max_new_tokens=6)
    alone = [pipe.generate(audio, prompt, greedy=True, max_new_tokens=6) for audio, prompt in items]
    assert [r.error for r in batched] == [None, None]
    assert [r.audio_tokens for r in batched] == [r.audio_tokens for r in alone] == [16, 9]
    assert [r.text for r in batched] == [r.text for r in alone]


@pytest.mark.parametrize("adapter", ["soundwave", "speechllm"])
def test_a_pipeline_folds_lora_in_and_answers_as_the_unmerged_model(bases, tmp_path, adapter):  # noqa: F811
    from soundwave.inference.loader import processor_for
    from soundwave.inference.pipeline import Pipeline

    spec = spec_for(bases, adapter)
    model, tokenizer, extractor = trained(spec)
    save_compact(model, tokenizer, extractor, tmp_path / "ckpt", spec)
    pipe = Pipeline.from_pretrained(str(tmp_path / "ckpt"))
    assert not has_lora(pipe.model.llm) and has_lora(model.llm)
    unmerged = Pipeline(model.eval(), processor_for(model, tokenizer, extractor))
    items = [{"audio": np.random.default_rng(k).normal(0, 0.1, 16_000 + 4_000 * k).astype(np.float32),
              "prompt": "hello", "sampling_rate": 16_000} for k in range(3)]  # fmt: skip
    options = {"greedy": True, "max_new_tokens": 8}
    merged = pipe.generate_batch(items, **options)
    assert [r.text for r in merged] == [r.text for r in unmerged.generate_batch(items, **options)]
