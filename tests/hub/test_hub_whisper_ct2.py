"""convert_ct2_whisper on a tiny random Whisper written in faster-whisper's layout (no real weights)."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest
import torch
from transformers import WhisperForConditionalGeneration, WhisperProcessor

from soundwave.errors import CheckpointError
from soundwave.hub import convert_ct2_whisper, verify_folder


def test_converted_model_matches_the_reference(whisper_ct2_folder: SimpleNamespace, tmp_path: Path) -> None:
    reference = whisper_ct2_folder.model
    convert_ct2_whisper(whisper_ct2_folder.path, tmp_path / "out")

    model = WhisperForConditionalGeneration.from_pretrained(tmp_path / "out").eval()
    config = model.config
    assert (config.d_model, config.num_mel_bins, config.encoder_layers, config.decoder_layers) == (
        64,
        80,
        2,
        2,
    )
    assert (config.encoder_attention_heads, config.max_source_positions, config.vocab_size) == (2, 50, 1767)
    expected, got = reference.state_dict(), model.state_dict()
    assert expected.keys() == got.keys()
    for key in expected:
        assert torch.equal(expected[key], got[key]), key
    features, tokens = torch.randn(1, 80, 100), torch.tensor([[257, 265, 10, 11]])
    with torch.no_grad():
        want = reference(input_features=features, decoder_input_ids=tokens).logits
        logits = model(input_features=features, decoder_input_ids=tokens).logits
    torch.testing.assert_close(logits, want, rtol=0, atol=1e-5)
    assert (tmp_path / "out" / "model.safetensors").is_file()
    verify_folder("whisper", tmp_path / "out", reference=model)


def test_tokenizer_and_generation_config(whisper_ct2_folder: SimpleNamespace, tmp_path: Path) -> None:
    convert_ct2_whisper(whisper_ct2_folder.path, tmp_path / "out")

    processor = WhisperProcessor.from_pretrained(tmp_path / "out")
    tokenizer, generation = (
        processor.tokenizer,
        WhisperForConditionalGeneration.from_pretrained(tmp_path / "out").generation_config,
    )
    assert len(tokenizer) == 1767  # 256 bytes + 10 specials + 1501 timestamps added by the converter
    assert tokenizer.convert_tokens_to_ids("<|0.00|>") == tokenizer.convert_tokens_to_ids("<|notimestamps|>") + 1
    assert tokenizer.all_special_ids[-1] == tokenizer.convert_tokens_to_ids("<|notimestamps|>")
    assert tokenizer.pad_token == tokenizer.eos_token == "<|endoftext|>"
    assert tokenizer.decode([257, 258, 261, 265, 72, 256], skip_special_tokens=True) == "i"
    assert generation._from_model_config is False
    assert generation.decoder_start_token_id == 257 and generation.eos_token_id == 256
    assert generation.no_timestamps_token_id == 265 and generation.suppress_tokens == [1, 2]
    assert generation.is_multilingual is False  # vocabulary < 51865, like every .en model
    assert processor.feature_extractor.feature_size == 80


def test_without_config_json_whisper_defaults_apply(whisper_ct2_folder: SimpleNamespace, tmp_path: Path) -> None:
    (whisper_ct2_folder.path / "config.json").unlink()

    model = convert_ct2_whisper(whisper_ct2_folder.path, tmp_path / "out")

    space = WhisperProcessor.from_pretrained(tmp_path / "out").tokenizer(" ", add_special_tokens=False).input_ids
    assert model.generation_config.begin_suppress_tokens == [*space, 256] and len(space) == 1
    assert model.generation_config.suppress_tokens == []


def test_multilingual_generation_takes_language_and_task(whisper_ct2_folder: SimpleNamespace, tmp_path: Path) -> None:
    convert_ct2_whisper(whisper_ct2_folder.path, tmp_path / "out", multilingual=True)
    model = WhisperForConditionalGeneration.from_pretrained(tmp_path / "out")

    assert model.generation_config.lang_to_id == {"<|en|>": 258, "<|fr|>": 259}
    assert model.generation_config.task_to_id == {"transcribe": 261, "translate": 260}
    out = model.generate(torch.randn(1, 80, 100), language="fr", task="translate", max_new_tokens=3)
    assert out.shape[0] == 1 and out.shape[1] >= 1


def test_heads_fall_back_to_width_over_64(make_whisper_ct2, tmp_path: Path) -> None:
    folder = make_whisper_ct2(d_model=128, heads=2)  # 128 / 64 = 2 heads, as in every released size
    folder.rewrite({k: v for k, v in folder.variables.items() if not k.endswith("/num_heads")})

    model = convert_ct2_whisper(folder.path, tmp_path / "out")

    assert model.config.encoder_attention_heads == model.config.decoder_attention_heads == 2
    features, tokens = torch.randn(1, 80, 100), torch.tensor([[257, 265]])
    with torch.no_grad():
        want = folder.model(input_features=features, decoder_input_ids=tokens).logits
        torch.testing.assert_close(model(input_features=features, decoder_input_ids=tokens).logits, want)


def test_int8_weights_are_dequantized_with_their_scale(whisper_ct2_folder: SimpleNamespace, tmp_path: Path) -> None:
    variables = dict(whisper_ct2_folder.variables)
    name = "encoder/layer_0/ffn/linear_0"
    weight = variables[f"{name}/weight"].float()  # (128, 64)
    scale = 127.0 / weight.abs().amax(dim=1)  # ctranslate2: per-row scale, int8 = round(w * scale)
    variables[f"{name}/weight"] = torch.round(weight * scale[:, None]).to(torch.int8)
    variables[f"{name}/weight_scale"] = scale
    whisper_ct2_folder.rewrite(variables)

    model = convert_ct2_whisper(whisper_ct2_folder.path, tmp_path / "out")

    expected = variables[f"{name}/weight"].float() / scale[:, None]
    torch.testing.assert_close(model.model.encoder.layers[0].fc1.weight, expected)


def test_unmapped_variable_and_wrong_tokenizer_are_errors(whisper_ct2_folder: SimpleNamespace, tmp_path: Path) -> None:
    whisper_ct2_folder.rewrite(whisper_ct2_folder.variables | {"encoder/extra/weight": torch.ones(2)})
    with pytest.raises(CheckpointError, match="does not map: \\['encoder/extra/weight'\\]"):
        convert_ct2_whisper(whisper_ct2_folder.path, tmp_path / "a")

    variables = dict(whisper_ct2_folder.variables)
    variables["decoder/embeddings/weight"] = variables["decoder/embeddings/weight"][:-3]
    whisper_ct2_folder.rewrite(variables)
    with pytest.raises(CheckpointError, match="does not belong to this model"):
        convert_ct2_whisper(whisper_ct2_folder.path, tmp_path / "b")

    (whisper_ct2_folder.path / "tokenizer.json").unlink()
    with pytest.raises(CheckpointError, match="tokenizer.json is missing"):
        convert_ct2_whisper(whisper_ct2_folder.path, tmp_path / "c")


def test_other_specs_are_refused(write_ct2, tmp_path: Path) -> None:
    (tmp_path / "src").mkdir()
    write_ct2(tmp_path / "src" / "model.bin", {"w": torch.ones(1)}, spec="TransformerSpec")
    with pytest.raises(CheckpointError, match="expected a CTranslate2 WhisperSpec model, got 'TransformerSpec'"):
        convert_ct2_whisper(tmp_path / "src", tmp_path / "out")
