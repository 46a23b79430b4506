"""Shared test set-up: offline by construction, seeded, tiny random models only."""

import os

os.environ["HF_HUB_OFFLINE"] = "1"  # a test that tries to download fails fast
os.environ["TRANSFORMERS_OFFLINE"] = "1"
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from pathlib import Path  # noqa: E402

import pytest  # noqa: E402
import torch  # noqa: E402

ASSETS = Path(__file__).parent / "assets"


@pytest.fixture(autouse=True)
def _seed() -> None:
    torch.manual_seed(0)


@pytest.fixture
def assets() -> Path:
    return ASSETS
