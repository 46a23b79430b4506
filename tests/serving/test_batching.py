"""Batching, back-pressure (429), timeouts (504) and streaming through the queue, on a controllable fake pipeline."""

from __future__ import annotations

import asyncio
import json

import pytest
from fastapi.testclient import TestClient

from soundwave.inference.pipeline import Item
from soundwave.serving import ServerSettings, create_app
from soundwave.serving.chat import generation_options, to_item
from soundwave.serving.schemas import ChatCompletionRequest
from tests.serving.conftest import audio_message, wav_bytes

CHAT = "/v1/chat/completions"
HI = {"messages": [{"role": "user", "content": "hi"}]}


def submit_together(batcher, requests: list[tuple[str, dict]]):
    """Queue several items in one event-loop step (as if they arrived together); returns their futures."""
    return [batcher.submit(Item(None, prompt), options) for prompt, options in requests]


def test_requests_arriving_together_share_one_generate_batch_call(fake):
    with TestClient(create_app(fake, ServerSettings(max_batch=8))) as client:
        batcher = client.app.state.batcher
        requests = [(f"q{i}", {"greedy": True}) for i in range(5)] + [("other", {"temperature": 0.7})]

        async def run():
            return [r.text for r in await asyncio.gather(*submit_together(batcher, requests))]

        texts = client.portal.call(run)
    assert texts == [f"echo q{i}" for i in range(5)] + ["echo other"]  # each answer back to its own request
    assert sorted(size for size, _ in fake.calls) == [1, 5]  # one call per distinct generation options


def test_a_bad_request_fails_only_itself_not_its_batch(fake):
    with TestClient(create_app(fake, ServerSettings(max_batch=8))) as client:
        batcher = client.app.state.batcher

        async def run():
            futures = submit_together(batcher, [("ok", {}), ("boom", {}), ("fine", {})])
            return await asyncio.gather(*futures, return_exceptions=True)

        ok, boom, fine = client.portal.call(run)
    assert (ok.text, fine.text) == ("echo ok", "echo fine") and "boom" in str(boom)
    assert [size for size, _ in fake.calls] == [3, 1, 1, 1]  # the batch, then each request alone


def test_max_batch_and_seeded_requests(fake):
    with TestClient(create_app(fake, ServerSettings(max_batch=3))) as client:
        batcher = client.app.state.batcher
        requests = [(f"q{i}", {}) for i in range(7)] + [("s", {"seed": 1}), ("t", {"seed": 1})]

        async def run():
            return await asyncio.gather(*submit_together(batcher, requests))

        client.portal.call(run)
    sizes = [size for size, _ in fake.calls]
    assert max(sizes) <= 3 and sum(sizes) == 9
    assert [size for size, options in fake.calls if "seed" in options] == [1, 1]  # seeded: alone, reproducible


def test_full_queue_answers_429_at_once_then_recovers(fake):
    with TestClient(create_app(fake, ServerSettings(max_batch=1, queue_size=2))) as client:
        fake.gate.clear()
        batcher = client.app.state.batcher
        waiting = client.portal.call(lambda: submit_together(batcher, [("held", {})]))
        assert fake.entered.wait(10)  # the model thread holds the first request
        waiting += client.portal.call(lambda: submit_together(batcher, [("a", {}), ("b", {})]))  # queue now full
        busy = client.post(CHAT, json=HI)
        assert busy.status_code == 429 and busy.headers["retry-after"] == "1"
        assert busy.json()["error"]["code"] == "queue_full" and "--queue-size" in busy.json()["error"]["message"]
        assert client.get("/health").json()["queued"] == 2
        fake.gate.set()

        async def drain():
            return [r.text for r in await asyncio.gather(*waiting)]

        assert client.portal.call(drain) == ["echo held", "echo a", "echo b"]
        assert client.post(CHAT, json=HI).status_code == 200


def test_timeout_answers_504_and_the_late_result_is_dropped(fake):
    with TestClient(create_app(fake, ServerSettings(timeout=0.2))) as client:
        fake.gate.clear()
        late = client.post(CHAT, json=HI)
        assert late.status_code == 504 and "--timeout" in late.json()["error"]["message"]
        with client.stream("POST", CHAT, json=HI | {"stream": True}) as streamed:
            assert streamed.status_code == 504  # no first piece in time: still a proper error, not a broken stream
        fake.gate.set()
        assert client.post(CHAT, json=HI).json()["choices"][0]["message"]["content"] == "echo hi"


def test_stream_goes_through_the_worker_with_the_options(fake):
    with TestClient(create_app(fake)) as client:
        request = HI | {"stream": True, "max_tokens": 7, "stop": "x", "temperature": 0}
        with client.stream("POST", CHAT, json=request) as response:
            lines = [line for line in response.iter_lines() if line]
    pieces = [json.loads(line[6:])["choices"][0]["delta"].get("content") for line in lines[:-1]]
    assert "".join(p or "" for p in pieces) == "echo hi" and lines[-1] == "data: [DONE]"
    assert fake.calls == [(1, {"max_new_tokens": 7, "stop": ("x",), "greedy": True, "stream": True})]


def test_bad_generation_option_is_400_before_queueing(fake):
    with TestClient(create_app(fake)) as client:
        response = client.post(CHAT, json=HI | {"top_p": 1.0, "temperature": 0.5, "max_completion_tokens": 0})
        assert response.status_code == 400 and "max_completion_tokens" in response.json()["error"]["message"]
    assert fake.calls == []


def test_messages_become_history_turns_and_audio():
    settings = ServerSettings()
    request = ChatCompletionRequest(
        messages=[
            {"role": "system", "content": "Be brief."},
            audio_message(wav_bytes(0.5), "What is said?"),
            {"role": "assistant", "content": "Hello."},
            audio_message(wav_bytes(0.25), ""),
        ],
        max_tokens=5,
        max_completion_tokens=9,
        temperature=0,
        stop=["a", "b"],
        seed=3,
    )
    item = to_item(request, settings)
    assert [(t.role, t.text, t.audio) for t in item.history] == [
        ("system", "Be brief.", False),
        ("user", "What is said?", True),
        ("assistant", "Hello.", False),
    ]
    assert [a.shape[0] for a in item.history_audio] == [8000]  # 16 kHz
    assert item.audio.shape[0] == 4000 and item.prompt == "What does the person say?"  # audio-only question
    assert generation_options(request) == {"max_new_tokens": 9, "greedy": True, "seed": 3, "stop": ("a", "b")}


@pytest.mark.parametrize("fmt,subtype", [("FLAC", None), ("OGG", "VORBIS"), ("MP3", "MPEG_LAYER_III")])
def test_other_formats_decode(fmt, subtype):
    from soundwave.serving.audio_input import load_request_audio

    wave = load_request_audio(wav_bytes(1.0, rate=22050, fmt=fmt, subtype=subtype), "clip", ServerSettings())
    assert abs(wave.shape[0] - 16000) < 1200  # resampled to 16 kHz (mp3 adds codec padding)
