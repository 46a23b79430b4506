"""Fixtures for data tests: tiny generated audio files written with soundfile."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf


def write_tone(path: Path, seconds: float, rate: int = 16_000, channels: int = 1) -> Path:
    """Write a quiet 440 Hz sine of `seconds` to `path` (format from the suffix) and return the path."""
    t = np.arange(int(round(seconds * rate))) / rate
    wave = (0.1 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)  # (n,)
    if channels > 1:
        wave = np.stack([wave] * channels, axis=1)  # (n,) -> (n, C)
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(path, wave, rate)
    return path


@pytest.fixture
def tone(tmp_path: Path) -> Callable[..., Path]:
    """`tone(name, seconds, rate=16000)` writes a sine file under tmp_path and returns its path."""

    def make(name: str, seconds: float = 0.5, rate: int = 16_000, channels: int = 1) -> Path:
        return write_tone(tmp_path / name, seconds, rate, channels)

    return make
