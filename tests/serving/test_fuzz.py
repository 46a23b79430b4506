"""A bounded fuzz of the API on loopback (the tiny reference model): a few hundred hostile requests, seeded, each
answered without a 5xx, and the server still answers a valid request at the end. About 20 s on 2 busy CPU cores."""

from __future__ import annotations

import base64
import io
import json
import random
import struct

import httpx
import numpy as np
import soundfile as sf

from soundwave.options import OPTIONS
from tests.serving.conftest import SPEECH

REQUESTS = 200
# values that break naive code: out-of-range numbers, wrong types, invalid Unicode, sizes; valid ints stay small
# (every valid request runs the model)
NUMBERS = [-1, 0, 1, 2, -0.0, 0.5, 1e-46, 1e308, -1e308, 2**31, 2**63, 2**64, -(2**63) - 1, float("nan")]
STRINGS = ["", " ", "\ud800", "a\udfffb", "\x00", "‮", "x" * 5000, "<|eot_id|>", "<audio_patch>", "🎤" * 50]
VALUES = NUMBERS + STRINGS + [None, True, False, [], {}, [[]], ["a", "\ud800"], {"a": 1}]
FIELDS = ["temperature", "top_p", "max_tokens", "max_completion_tokens", "seed", "stop", "n", "stream", "model", "user"]
FIELDS += [spec.name for spec in OPTIONS if spec.name not in ("max_new_tokens", "do_sample", "temperature", "stop")]
FIELDS += ["stream_options", "no_such_field"]


def encoded(wave: np.ndarray, fmt: str = "WAV", subtype: str | None = None, rate: int = 16_000) -> bytes:
    buffer = io.BytesIO()
    sf.write(buffer, wave, rate, format=fmt, subtype=subtype)
    return buffer.getvalue()


def audio_payloads(rng: random.Random) -> list[bytes]:
    speech = SPEECH.read_bytes()
    quiet = np.zeros(8000, np.float32)
    loud = quiet.copy()
    loud[::100] = 1e19
    flac = encoded(np.random.default_rng(0).normal(0, 0.1, 16000).astype(np.float32), "FLAC")
    return [
        speech,
        speech[:44],  # a header and nothing else
        speech[: len(speech) // 3],
        flac[: len(flac) // 2],  # truncated flac
        encoded(loud, subtype="FLOAT"),
        encoded(np.full(800, np.nan, np.float32), subtype="FLOAT"),
        encoded(quiet, rate=1),
        encoded(np.zeros((800, 8), np.float32)),  # 8 channels
        speech[:40] + struct.pack("<I", 2**32 - 1) + speech[44:],  # data chunk claiming 4 GB
        b"",
        bytes(rng.randrange(256) for _ in range(2000)),
        b"RIFF" + bytes(100),
        b"fLaC" + bytes(60),
    ]


def text_or_audio_part(rng: random.Random, payloads: list[bytes]) -> dict:
    """A content part: mostly a good one (a question, the speech clip), else a hostile text, audio or format."""
    if rng.random() < 0.5:
        return {"type": "text", "text": "What is said?" if rng.random() < 0.7 else rng.choice(STRINGS)}
    data = base64.b64encode(payloads[0] if rng.random() < 0.6 else rng.choice(payloads)).decode()
    if rng.random() < 0.15:
        data = rng.choice([data[:-3], "data:audio/wav;base64," + data, "@@", data + "=="])
    fmt = "wav" if rng.random() < 0.8 else rng.choice(["mp3", "flac", "ogg", "x"])
    return {"type": "input_audio", "input_audio": {"data": data, "format": fmt}}


def chat_request(rng: random.Random, payloads: list[bytes]):
    """A chat request, mostly well formed with a hostile value or two, sometimes not a request at all."""
    if rng.random() < 0.05:
        return rng.choice([[], "x", None, 1, {"messages": {"role": "user"}}, {"messages": [{"role": "user"}] * 50}])
    messages = []
    for _ in range(rng.choice([0, 0, 1, 2])):  # history
        role = rng.choice(["user", "assistant", "system"]) if rng.random() < 0.9 else rng.choice(["tool", "", None])
        parts = [text_or_audio_part(rng, payloads) for _ in range(rng.randrange(1, 3))]
        content = parts if rng.random() < 0.8 else rng.choice([rng.choice(STRINGS), None, []])
        messages.append({"role": role, "content": content if role == "user" else rng.choice(STRINGS[:2] + ["ok"])})
    messages.append({"role": "user", "content": [text_or_audio_part(rng, payloads)]})
    body: dict = {"messages": messages, "max_tokens": rng.choice([1, 2])}
    for _ in range(rng.choice([0, 0, 1, 1, 2])):
        body[rng.choice(FIELDS)] = rng.choice(VALUES)
    return body


def raw_body(rng: random.Random, body) -> bytes:
    text = json.dumps(body)  # escapes lone surrogates: valid JSON that is not valid Unicode text
    roll = rng.random()
    if roll < 0.05:
        return text[: rng.randrange(len(text) + 1)].encode()  # truncated
    if roll < 0.08:
        return b"[" * 5000 + b"]" * 5000  # deep nesting
    if roll < 0.1:
        return text.encode()[:20] + b"\xff\xfe" + text.encode()[20:]  # not UTF-8
    return text.encode()


def transcription_form(rng: random.Random, payloads: list[bytes]) -> tuple[dict, dict]:
    files = {"file": (rng.choice(["a.wav", "", "../../etc/passwd", "\u202e.wav"]), rng.choice(payloads))}
    data = {"max_new_tokens": b"2"}  # every valid one runs the model
    for _ in range(rng.randrange(0, 4)):
        key = rng.choice(["num_beams", "ctc_weight", "temperature", "stop", "response_format", "seed", "bogus"])
        data[key] = str(rng.choice(VALUES)).encode("utf-8", "surrogatepass")  # a surrogate: bytes that are not UTF-8
    return files, data


def server_error(response: httpx.Response) -> str | None:
    """What is wrong with the answer, if it is a 5xx, an SSE error of the server's, or an error without a message."""
    if response.status_code >= 500:
        return f"{response.status_code}: {response.text[:300]}"
    if response.headers.get("content-type", "").startswith("text/event-stream"):
        return response.text[:300] if '"server_error"' in response.text else None  # an error after the first piece
    if response.status_code >= 400 and not response.json()["error"]["message"]:
        return f"{response.status_code} without a message"
    return None


def test_hostile_requests_never_get_a_5xx(live_server):
    rng = random.Random(36)
    payloads = audio_payloads(rng)
    failures = []
    with httpx.Client(base_url=live_server, timeout=60) as client:
        for number in range(REQUESTS):
            if rng.random() < 0.8:
                content = raw_body(rng, chat_request(rng, payloads))
                headers = {"content-type": "application/json"}
                response, sent = client.post("/v1/chat/completions", content=content, headers=headers), content[:300]
            else:
                files, data = transcription_form(rng, payloads)
                response, sent = (
                    client.post("/v1/audio/transcriptions", files=files, data=data),
                    (data, files["file"][0]),
                )
            if (wrong := server_error(response)) is not None:
                failures.append((number, wrong, sent))
        clip = base64.b64encode(SPEECH.read_bytes()).decode()
        audio = {"type": "input_audio", "input_audio": {"data": clip, "format": "wav"}}
        valid = {"messages": [{"role": "user", "content": [audio]}], "max_tokens": 2}
        assert client.post("/v1/chat/completions", json=valid).status_code == 200
    assert not failures, f"{len(failures)} of {REQUESTS} requests got a server error; the first ones: {failures[:5]}"
