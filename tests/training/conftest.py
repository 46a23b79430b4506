"""Tiny base models (Whisper with a 10 s window, ChatML Llama) and a 4-sample manifest for training tests."""

import json
from pathlib import Path

import pytest
import torch
from transformers import WhisperConfig, WhisperFeatureExtractor, WhisperForConditionalGeneration

from tests.model.test_builder import write_llm

AUDIO = Path(__file__).parents[1] / "assets" / "soundwave-reference" / "audio"


def write_whisper_10s(out: Path) -> None:
    torch.manual_seed(0)
    config = WhisperConfig(
        d_model=32,
        encoder_layers=2,
        encoder_attention_heads=2,
        encoder_ffn_dim=64,
        decoder_layers=1,
        decoder_attention_heads=2,
        decoder_ffn_dim=64,
        num_mel_bins=80,
        max_source_positions=500,
        max_target_positions=16,
        vocab_size=64,
        pad_token_id=0,
        bos_token_id=1,
        eos_token_id=2,
        decoder_start_token_id=1,
        suppress_tokens=[],
        begin_suppress_tokens=[],
    )
    WhisperForConditionalGeneration(config).save_pretrained(out)
    WhisperFeatureExtractor(feature_size=80, chunk_length=10).save_pretrained(out)


@pytest.fixture(scope="session")
def tiny_bases(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("training-bases")
    write_whisper_10s(root / "whisper")
    torch.manual_seed(1)
    write_llm(root / "llm", chatml=True)
    return {"encoder": root / "whisper", "llm": root / "llm"}


@pytest.fixture(scope="session")
def manifest(tmp_path_factory) -> Path:
    rows = [
        {
            "id": "fox",
            "audio": str(AUDIO / "example_1.wav"),
            "prompt": "What does the person say?",
            "answer": "the quick brown fox",
            "transcript": "the quick brown fox",
        },
        {
            "id": "man",
            "audio": str(AUDIO / "sense_and_sensibility_01_austen_64kb-0880.wav"),
            "prompt": "What does the person say?",
            "answer": "he was not an ill disposed young man",
            "transcript": "he was not an ill disposed young man",
        },
        {
            "id": "qa",
            "audio": str(AUDIO / "example_1.wav"),
            "prompt": "Which animal is named?",
            "answer": "a fox",
            "transcript": "the quick brown fox",
            "task": "qa",
        },
        {"id": "sum", "audio": None, "prompt": "What is two plus two?", "answer": "four", "task": "text"},
    ]
    path = tmp_path_factory.mktemp("data") / "train.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


@pytest.fixture
def run_config(tiny_bases, manifest):
    """A run config dict for `output_dir`; tests adjust the training section."""

    def make(output_dir: Path, **training) -> dict:
        return {
            "model": {"encoder": str(tiny_bases["encoder"]), "llm": str(tiny_bases["llm"]), "mode": "paper"},
            "data": {"datasets": [{"path": str(manifest)}], "eval_datasets": [{"path": str(manifest), "name": "dev"}]},
            "training": {
                "output_dir": str(output_dir),
                "per_device_train_batch_size": 4,
                "logging_steps": 1,
                "learning_rate": 3e-3,
                "seed": 7,
                **training,
            },
        }

    return make
