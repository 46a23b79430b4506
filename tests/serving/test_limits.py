"""Limits on the whole request, checked before work: audio seconds of all recordings together (none decoded past
what is left), prompt tokens (5 MB of text refused untokenized), and the time a client has to send its body."""

from __future__ import annotations

import io
import json
import shutil
import socket
import subprocess
import sys
import time

import numpy as np
import pytest
import soundfile as sf
from fastapi.testclient import TestClient

from soundwave.serving import ServerSettings, create_app
from soundwave.serving.chat import to_item
from soundwave.serving.errors import ApiError
from soundwave.serving.schemas import ChatCompletionRequest
from tests.serving.conftest import audio_message, serving, wav_bytes

CHAT = "/v1/chat/completions"


def silent_flac(seconds: float, rate: int = 1000) -> bytes:
    buffer = io.BytesIO()
    sf.write(buffer, np.zeros(int(seconds * rate), np.float32), rate, format="FLAC")
    return buffer.getvalue()


def history_of(clip: bytes, count: int, fmt: str) -> list[dict]:
    """`count` user turns each carrying `clip`, answered, then a text question."""
    messages = []
    for _ in range(count):
        messages += [audio_message(clip, "What is said?", fmt), {"role": "assistant", "content": "Nothing."}]
    return [*messages, {"role": "user", "content": "And now?"}]


def test_recordings_of_all_messages_share_the_audio_limit():
    settings = ServerSettings(max_audio_seconds=1.5)
    one_second = wav_bytes(1.0)
    item = to_item(ChatCompletionRequest(messages=[audio_message(one_second)]), settings)
    assert item.audio.shape[0] == 16_000  # one clip alone fits
    with pytest.raises(ApiError) as caught:
        to_item(ChatCompletionRequest(messages=history_of(one_second, 2, "wav")), settings)
    error = caught.value
    assert (error.status, error.code, error.param) == (413, "audio_too_long", "messages[2].content[0].input_audio")
    assert "1.0 s in the request's earlier recordings" in error.message and "--max-audio-seconds" in error.message


PEAK_RSS = """
import json, sys
from soundwave.serving.chat import to_item
from soundwave.serving.errors import ApiError
from soundwave.serving.schemas import ChatCompletionRequest
from soundwave.serving.settings import ServerSettings


def kib(field):
    return next(int(line.split()[1]) for line in open("/proc/self/status") if line.startswith(field + ":"))


out = []
for line in sys.stdin:
    case = json.loads(line)
    request = ChatCompletionRequest(messages=case["messages"])
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")  # resets the peak (VmHWM) to the current RSS: each case is measured from here
    rss = kib("VmRSS")
    try:
        to_item(request, ServerSettings(max_audio_seconds=case["limit"]))
        status = 200
    except ApiError as err:
        status = err.status
    out.append({"status": status, "growth_mb": (kib("VmHWM") - rss) * 1024 / 1e6})
print(json.dumps(out))
"""


def peak_rss_growth(cases: list[dict]) -> list[dict]:
    """Decode each case's messages in a fresh process (Linux: its peak RSS can be reset); status and peak growth."""
    stdin = "".join(json.dumps(case) + "\n" for case in cases)
    done = subprocess.run([sys.executable, "-c", PEAK_RSS], input=stdin, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.splitlines()[-1])


@pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="needs ffmpeg")
def test_tiny_payloads_of_hours_of_audio_are_refused_without_decoding_them():
    # an 8 kbit/s ADTS AAC (only ffmpeg decodes it) of an hour against a 60 s limit: 230 MB as 16 kHz floats
    aac = subprocess.run(
        "ffmpeg -nostdin -v error -f lavfi -i anullsrc=r=8000:cl=mono -t 3600 -c:a aac -b:a 8k -f adts -",
        shell=True, capture_output=True, check=True,
    ).stdout  # fmt: skip
    flacs = history_of(silent_flac(590), 10, "flac")  # 10 x 590 s at 1 kHz, ~2 kB each: 378 MB as 16 kHz floats
    aac_case = {"messages": [audio_message(aac, fmt="mp3")], "limit": 60}  # declared mp3, as a client might
    results = peak_rss_growth([aac_case, {"messages": flacs, "limit": 600}])
    assert [r["status"] for r in results] == [413, 413]
    assert all(r["growth_mb"] < 150 for r in results), results  # before: the whole audio was decoded


def test_five_megabytes_of_prompt_are_refused_before_the_model_thread(fake):
    class Counting:  # the fake tokenizer, counting what it is asked to tokenize
        chars = 0

        def get_vocab(self) -> dict:
            return {"a": 0, "bb": 1, "hello": 2}

        def __call__(self, text: str, add_special_tokens: bool = False) -> dict:
            Counting.chars += len(text)
            return {"input_ids": text.split()}

    fake.tokenizer = Counting()
    with TestClient(create_app(fake, ServerSettings(max_prompt_tokens=100))) as client:
        started = time.monotonic()
        response = client.post(CHAT, json={"messages": [{"role": "user", "content": "hello " * 900_000}]})
        assert time.monotonic() - started < 5
        error = response.json()["error"]
        assert response.status_code == 400 and error["code"] == "context_length_exceeded", response.text
        assert "5,400,000 characters" in error["message"] and "--max-prompt-tokens" in error["message"]
        assert Counting.chars == 0  # refused without tokenizing
        # near the limit: counted exactly, over all messages
        messages = [{"role": "system", "content": "a " * 60}, {"role": "user", "content": "bb " * 41}]
        response = client.post(CHAT, json={"messages": messages})
        assert response.status_code == 400 and "101 tokens of text, over the limit of 100" in response.text
        messages[1]["content"] = "bb " * 40
        assert client.post(CHAT, json={"messages": messages}).status_code == 200
    assert len(fake.calls) == 1  # only the request within the limit reached the model


def test_the_prompt_limit_is_the_models_context_when_smaller(pipe):
    from soundwave.serving.chat import prompt_limit

    limit = prompt_limit(pipe, ServerSettings(max_prompt_tokens=10**6))
    assert (limit.tokens, limit.source) == (pipe.context_length, "the model's context")
    assert prompt_limit(pipe, ServerSettings(max_prompt_tokens=50)).tokens == 50


def test_a_body_that_never_finishes_is_answered_408_and_closed(fake):
    with serving(create_app(fake, ServerSettings(body_timeout=0.5))) as url:
        host, port = url.removeprefix("http://").split(":")
        with socket.create_connection((host, int(port)), timeout=10) as sock:
            head = f"POST {CHAT} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n"
            sock.sendall(head.encode() + b'{"messages": [')  # ... and the rest never comes
            started = time.monotonic()
            answer = b""
            while chunk := sock.recv(65536):  # returns b"" once the server closes the connection
                answer += chunk
            assert time.monotonic() - started < 5
        status, _, body = answer.partition(b"\r\n\r\n")
        assert status.startswith(b"HTTP/1.1 408") and b"--body-timeout" in body and b"request_timeout" in body
        with socket.create_connection((host, int(port)), timeout=10) as sock:  # a whole body in time is fine
            body = json.dumps({"messages": [{"role": "user", "content": "hi"}]}).encode()
            head = f"POST {CHAT} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {len(body)}"
            sock.sendall(head.encode() + b"\r\nConnection: close\r\n\r\n" + body)
            assert sock.recv(65536).startswith(b"HTTP/1.1 200")
