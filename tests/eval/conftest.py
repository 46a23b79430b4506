"""Fixtures for evaluation tests: tiny WAV files and a tiny random Whisper saved like a converted model."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.eval.fakes import write_wav


@pytest.fixture
def wavs(tmp_path: Path) -> dict[str, Path]:
    """a.wav 1 s, b.wav 3 s, c.wav 6 s, d.wav 1.5 s in tmp_path."""
    return {name: write_wav(tmp_path / f"{name}.wav", sec) for name, sec in [("a", 1), ("b", 3), ("c", 6), ("d", 1.5)]}


@pytest.fixture(scope="session")
def tiny_whisper(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A random 2-layer Whisper (d_model 16) with a byte-level tokenizer, saved like a converted model."""
    from tokenizers.pre_tokenizers import ByteLevel
    from transformers import (
        GenerationConfig,
        WhisperConfig,
        WhisperFeatureExtractor,
        WhisperForConditionalGeneration,
        WhisperProcessor,
        WhisperTokenizer,
    )

    specials = ["<|endoftext|>", "<|startoftranscript|>", "<|en|>", "<|translate|>", "<|transcribe|>"]
    specials += ["<|startoflm|>", "<|startofprev|>", "<|nocaptions|>", "<|notimestamps|>"]
    vocab = {char: i for i, char in enumerate(sorted(ByteLevel.alphabet()))}
    vocab.update({token: len(vocab) + i for i, token in enumerate(specials)})
    tokenizer = WhisperTokenizer(vocab=vocab, merges=[])
    tokenizer.add_special_tokens({"additional_special_tokens": specials[1:]})
    eot = vocab["<|endoftext|>"]
    config = WhisperConfig(
        vocab_size=len(vocab),
        num_mel_bins=80,
        encoder_layers=1,
        decoder_layers=1,
        encoder_attention_heads=2,
        decoder_attention_heads=2,
        d_model=16,
        encoder_ffn_dim=32,
        decoder_ffn_dim=32,
        max_source_positions=1500,
        max_target_positions=64,
        pad_token_id=eot,
        bos_token_id=eot,
        eos_token_id=eot,
        decoder_start_token_id=vocab["<|startoftranscript|>"],
        begin_suppress_tokens=None,
        suppress_tokens=None,
    )
    model = WhisperForConditionalGeneration(config).eval()
    generation = GenerationConfig.from_model_config(config)
    generation.no_timestamps_token_id = vocab["<|notimestamps|>"]
    generation.is_multilingual = False
    generation._from_model_config = False  # transformers 5 refuses generate() options otherwise
    model.generation_config = generation
    folder = tmp_path_factory.mktemp("tiny-whisper")
    model.save_pretrained(folder)
    WhisperProcessor(feature_extractor=WhisperFeatureExtractor(feature_size=80), tokenizer=tokenizer).save_pretrained(
        folder
    )
    return folder
