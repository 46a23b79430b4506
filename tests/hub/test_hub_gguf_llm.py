"""convert_gguf_llm on a tiny random Llama chat model written as GGUF by the test writer."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

from soundwave.errors import CheckpointError
from soundwave.hub import convert_gguf_llm, verify_folder

MESSAGES = [{"role": "user", "content": "hello"}]


def test_converted_llm_matches_the_gguf_model(tiny_gguf: Path, tmp_path: Path) -> None:
    convert_gguf_llm(tiny_gguf, tmp_path / "out")

    model = AutoModelForCausalLM.from_pretrained(tmp_path / "out")
    reference = AutoModelForCausalLM.from_pretrained(tiny_gguf.parent, gguf_file=tiny_gguf.name)
    tokenizer = AutoTokenizer.from_pretrained(tmp_path / "out")
    inputs = tokenizer.apply_chat_template(MESSAGES, add_generation_prompt=True, return_tensors="pt", return_dict=True)
    with torch.no_grad():
        torch.testing.assert_close(model(**inputs).logits, reference(**inputs).logits, rtol=0, atol=1e-6)
    assert model.dtype == torch.float32
    assert "quantization_config" not in json.loads((tmp_path / "out" / "config.json").read_text())
    verify_folder("llm", tmp_path / "out", reference=model)


def test_tokenizer_has_template_eos_and_pad(tiny_gguf: Path, tmp_path: Path) -> None:
    convert_gguf_llm(tiny_gguf, tmp_path / "out")

    tokenizer = AutoTokenizer.from_pretrained(tmp_path / "out")
    generation = AutoModelForCausalLM.from_pretrained(tmp_path / "out").generation_config
    text = tokenizer.apply_chat_template(MESSAGES, add_generation_prompt=True, tokenize=False)
    assert text == "<|im_start|>user\nhello<|im_end|>\n<|im_start|>assistant\n"
    assert tokenizer.eos_token == "<|im_end|>" and generation.eos_token_id == tokenizer.eos_token_id
    assert tokenizer.pad_token == "<|im_end|>"  # the GGUF file names no pad token: eos is used
    assert generation.pad_token_id == tokenizer.pad_token_id and generation._from_model_config is False
    assert tokenizer.model_max_length == 128  # the GGUF context length


def test_model_without_chat_template_is_refused(write_gguf, tmp_path: Path) -> None:
    gguf_path = write_gguf(tmp_path / "plain.gguf", chat_template=None)
    with pytest.raises(CheckpointError, match="no chat template"):
        convert_gguf_llm(gguf_path, tmp_path / "out")


def test_truncated_or_foreign_file_is_a_checkpoint_error(tiny_gguf: Path, tmp_path: Path) -> None:
    data = tiny_gguf.read_bytes()
    cut = tmp_path / "cut" / "model.gguf"
    cut.parent.mkdir()
    cut.write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match="cannot read this GGUF file"):
        convert_gguf_llm(cut, tmp_path / "out")

    (tmp_path / "text.gguf").write_text("hello")
    with pytest.raises(CheckpointError, match="not a GGUF file"):
        convert_gguf_llm(tmp_path / "text.gguf", tmp_path / "out")
    with pytest.raises(CheckpointError, match="GGUF file not found"):
        convert_gguf_llm(tmp_path / "absent.gguf", tmp_path / "out")
