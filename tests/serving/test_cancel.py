"""Work given up is not finished: a request answered 504, or whose client went away, stops its generation at the
next decoding step and frees the model thread for the next request."""

from __future__ import annotations

import json
import socket
import time

from fastapi.testclient import TestClient

from soundwave.serving import ServerSettings, create_app
from tests.serving.conftest import audio_message, serving

CHAT = "/v1/chat/completions"
HI = {"messages": [{"role": "user", "content": "hi"}]}


def test_a_timed_out_request_stops_generating_and_the_next_is_served(fake):
    fake.decode_until_stopped = True  # "generates" until its should_stop says the request was given up
    with TestClient(create_app(fake, ServerSettings(timeout=0.3))) as client:
        for stream in (False, True):
            fake.stopped.clear()
            response = client.post(CHAT, json=HI | {"stream": stream})
            assert response.status_code == 504 and response.json()["error"]["code"] == "timeout"
            assert fake.stopped.wait(5), f"stream={stream}: generation went on after the 504"
        fake.decode_until_stopped = False
        assert client.post(CHAT, json=HI).json()["choices"][0]["message"]["content"] == "echo hi"


def test_a_client_that_disconnects_stops_its_generation(fake):
    fake.decode_until_stopped = True
    with serving(create_app(fake, ServerSettings(timeout=60))) as url:
        host, port = url.removeprefix("http://").split(":")
        for stream in (False, True):
            fake.entered.clear()
            fake.stopped.clear()
            body = json.dumps(HI | {"stream": stream}).encode()
            head = f"POST {CHAT} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {len(body)}"
            with socket.create_connection((host, int(port)), timeout=10) as sock:
                sock.sendall(head.encode() + b"\r\n\r\n" + body)
                assert fake.entered.wait(5)  # generating
            assert fake.stopped.wait(5), f"stream={stream}: generation went on after the client left"


def test_the_real_model_is_free_again_right_after_a_504(pipe, speech_bytes):
    """The tiny model takes ~25 ms a token here: 2,000 tokens would hold the model thread for about a minute."""
    sampled = {"temperature": 1.0, "seed": 1}
    with TestClient(create_app(pipe, ServerSettings(timeout=1.0))) as client:
        started = time.monotonic()
        long = client.post(CHAT, json={"messages": [audio_message(speech_bytes)], "max_tokens": 2000, **sampled})
        assert long.status_code == 504, long.text
        short = client.post(CHAT, json={"messages": [audio_message(speech_bytes)], "max_tokens": 2, **sampled})
        assert short.status_code == 200, short.text
        assert time.monotonic() - started < 20
