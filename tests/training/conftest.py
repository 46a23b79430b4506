"""Tiny base models (Whisper with a 10 s window, ChatML Llama) and a 4-sample manifest for training tests."""

import json
from pathlib import Path

import pytest
import torch

from tests.model.test_builder import write_llm, write_whisper

AUDIO = Path(__file__).parents[1] / "assets" / "soundwave-reference" / "audio"


@pytest.fixture(scope="session")
def tiny_bases(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("training-bases")
    torch.manual_seed(0)
    write_whisper(root / "whisper", mel_window=1000)  # a 10 s window: the test clips fit in one
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
