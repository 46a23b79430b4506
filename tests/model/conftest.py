"""Fixtures for model tests: the released-format reference checkpoint and what the release computed from it."""

import json
from pathlib import Path

import pytest
from safetensors.torch import load_file

REFERENCE = Path(__file__).parents[1] / "assets" / "soundwave-reference"


@pytest.fixture(scope="session")
def reference_dir() -> Path:
    return REFERENCE


@pytest.fixture(scope="session")
def expected() -> dict:
    return load_file(str(REFERENCE / "expected.safetensors"))


@pytest.fixture(scope="session")
def expected_json() -> dict:
    return json.loads((REFERENCE / "expected.json").read_text())


@pytest.fixture(scope="session")
def reference_model():
    from soundwave.model.loading import load_soundwave

    return load_soundwave(REFERENCE / "checkpoint")


@pytest.fixture(scope="session")
def reference_tokenizer():
    from transformers import AutoTokenizer

    import soundwave  # noqa: F401  (registers the Soundwave config so the tokenizer loads)

    return AutoTokenizer.from_pretrained(REFERENCE / "checkpoint")
