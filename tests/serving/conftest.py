"""Serving fixtures: the tiny reference model, short wav clips, a controllable fake pipeline, a live server."""

from __future__ import annotations

import base64
import io
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest

from soundwave.errors import SoundwaveError
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
    """Answers 'echo <prompt>' and records every call (a call holding the prompt "boom" raises); close `gate` to
    hold the model thread.

    With `decode_until_stopped`, a call instead "decodes" (polls its `should_stop`, as transformers asks its
    stopping criteria after each step) until it is told to stop; `stopped` is set then.
    """

    def __init__(self) -> None:
        self.generation = GenerationConfig()
        self.transcription = GenerationConfig(do_sample=False)
        self.tokenizer = _Tokenizer()
        self.calls: list[tuple[int, dict]] = []
        self.gate = threading.Event()
        self.gate.set()
        self.entered = threading.Event()  # set when a call reached the model thread
        self.decode_until_stopped = False
        self.stopped = threading.Event()  # set when a call ended because its should_stop said so

    def transcribe_batch(self, items, should_stop=None, **options) -> list[Result]:
        return self.generate_batch(items, should_stop=should_stop, **options)

    def _decode(self, should_stop) -> None:
        self.entered.set()
        assert self.gate.wait(30), "test never opened the gate"
        deadline = time.monotonic() + 30
        while self.decode_until_stopped:
            assert time.monotonic() < deadline, "generation was never told to stop"
            if should_stop is not None and should_stop():
                self.stopped.set()
                return
            time.sleep(0.01)  # one "decoding step"

    def generate_batch(self, items, should_stop=None, **options) -> list[Result]:
        self._decode(should_stop)
        self.calls.append((len(items), options))
        if any(item.prompt == "boom" for item in items):  # a bad item fails its whole call, as tokenizing would
            raise SoundwaveError("the prompt: boom")
        return [Result(text=f"echo {item.prompt}", input_tokens=10, audio_tokens=4, output_tokens=2) for item in items]

    def stream(self, audio, prompt, history=(), history_audio=(), should_stop=None, **options) -> Iterator[str]:
        self._decode(should_stop)
        self.calls.append((1, options | {"stream": True}))
        yield from ["echo ", prompt]


@pytest.fixture
def fake() -> Iterator[FakePipeline]:
    pipeline = FakePipeline()
    yield pipeline
    pipeline.gate.set()  # never leave a model thread blocked


@contextmanager
def serving(app) -> Iterator[str]:
    """Serve `app` with uvicorn on a free loopback port, in a thread; yields the base URL."""
    import uvicorn

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:  # bounded wait for uvicorn's start-up
        assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


@pytest.fixture(scope="session")
def live_server(pipe) -> Iterator[str]:
    """The app on the tiny reference model, served on loopback; yields the base URL."""
    from soundwave.serving import ServerSettings, create_app

    with serving(create_app(pipe, ServerSettings(model_name="soundwave-tiny"))) as url:
        yield url
