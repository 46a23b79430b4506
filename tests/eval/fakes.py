"""Test doubles for evaluation: a scripted fake pipeline, tiny WAV files and manifest writing."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf


@dataclass
class FakeResult:
    text: str
    error: str | None = None
    input_tokens: int = 10
    output_tokens: int = 0
    seconds: float = 0.0


class FakePipeline:
    """Answers from a script keyed by the audio file name: a str is the text, an Exception is raised for any
    batch holding that item, and ("error", msg) returns an error result for that item only."""

    name = "fake-model"

    def __init__(self, script: dict[str, object]) -> None:
        self.script = script
        self.batches: list[int] = []  # size of every generate_batch call
        self.generation: list[dict] = []

    def generate_batch(self, items: list[dict], **generation: object) -> list[FakeResult]:
        self.batches.append(len(items))
        self.generation.append(generation)
        results = []
        for item in items:
            answer = self.script[Path(item["audio"]).name]
            if isinstance(answer, Exception):
                raise answer
            if isinstance(answer, tuple):
                results.append(FakeResult(text="", error=answer[1]))
            else:
                results.append(FakeResult(text=answer, output_tokens=len(answer.split())))
        return results


def write_wav(path: Path, seconds: float, rate: int = 16_000) -> Path:
    """A quiet 440 Hz tone of `seconds`."""
    t = np.arange(int(seconds * rate)) / rate
    sf.write(path, (0.1 * np.sin(2 * np.pi * 440 * t)).astype(np.float32), rate)
    return path


def write_manifest(path: Path, lines: list[object]) -> Path:
    """Write JSONL: dicts are dumped as JSON, strings are written as they are (for malformed lines)."""
    path.write_text("".join((line if isinstance(line, str) else json.dumps(line)) + "\n" for line in lines))
    return path
