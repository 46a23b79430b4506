"""Serving fixtures: the tiny reference model, short wav clips, a controllable fake pipeline, a live server."""

from __future__ import annotations

import base64
import io
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from soundwave.inference.pipeline import Result
from soundwave.options import GenerationConfig

REFERENCE = Path(__file__).parents[1] / "assets" / "soundwave-reference"
SPEECH = REFERENCE / "audio" / "example_1.wav"  # 4.3 s of speech, 16 kHz 16-bit wav


def wav_bytes(seconds: float, rate: int = 16_000, fmt: str = "WAV", subtype: str | None = "PCM_16") -> bytes:
    """A clip of quiet noise encoded as an audio file's bytes."""
    import soundfile as sf

    wave = np.random.default_rng(0).normal(0, 0.05, int(seconds * rate)).astype(np.float32)
    buffer = io.BytesIO()
    sf.write(buffer, wave, rate, format=fmt, subtype=subtype)
    return buffer.getvalue()


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def audio_message(data: bytes, text: str = "What is said?", fmt: str = "wav") -> dict:
    return {
        "role": "user",
        "content": [
            {"type": "input_audio", "input_audio": {"data": b64(data), "format": fmt}},
            {"type": "text", "text": text},
        ],
    }


@pytest.fixture(scope="session")
def pipe():
    """The tiny random reference model, answering at most 6 tokens by default (greedy) to keep tests fast."""
    from soundwave.inference.pipeline import Pipeline

    pipeline = Pipeline.from_pretrained(str(REFERENCE / "checkpoint"))
    pipeline.generation = GenerationConfig(max_new_tokens=6, do_sample=False)
    return pipeline


@pytest.fixture(scope="session")
def speech_bytes() -> bytes:
    return SPEECH.read_bytes()


class _Tokenizer:
    def __call__(self, text: str, add_special_tokens: bool = False) -> dict:
        return {"input_ids": text.split()}


class FakePipeline:
    """Answers 'echo <prompt>' and records every call; close `gate` to hold the model thread."""

    def __init__(self) -> None:
        self.generation = GenerationConfig()
        self.transcription = GenerationConfig(do_sample=False)
        self.tokenizer = _Tokenizer()
        self.calls: list[tuple[int, dict]] = []
        self.gate = threading.Event()
        self.gate.set()
        self.entered = threading.Event()  # set when a call reached the model thread

    def transcribe_batch(self, items, **options) -> list[Result]:
        return self.generate_batch(items, **options)

    def generate_batch(self, items, **options) -> list[Result]:
        self.entered.set()
        assert self.gate.wait(30), "test never opened the gate"
        self.calls.append((len(items), options))
        return [Result(text=f"echo {item.prompt}", input_tokens=10, audio_tokens=4, output_tokens=2) for item in items]

    def stream(self, audio, prompt, history=(), history_audio=(), **options) -> Iterator[str]:
        self.entered.set()
        assert self.gate.wait(30), "test never opened the gate"
        self.calls.append((1, options | {"stream": True}))
        yield from ["echo ", prompt]


@pytest.fixture
def fake() -> Iterator[FakePipeline]:
    pipeline = FakePipeline()
    yield pipeline
    pipeline.gate.set()  # never leave a model thread blocked


@pytest.fixture(scope="session")
def live_server(pipe) -> Iterator[str]:
    """The app on a free loopback port, served by uvicorn in a thread; yields the base URL."""
    import uvicorn

    from soundwave.serving import ServerSettings, create_app

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    app = create_app(pipe, ServerSettings(model_name="soundwave-tiny"))
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:  # bounded wait for uvicorn's start-up
        assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.02)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)
    sock.close()
