"""`/v1/listen`: live captions over a WebSocket, questions, bad input, keys and limits (the tiny reference model)."""

from __future__ import annotations

import asyncio
import json

import numpy as np
import pytest
import soundfile as sf
from fastapi.testclient import TestClient
from starlette.websockets import WebSocketDisconnect

from soundwave.serving import ServerSettings, create_app
from tests.serving.conftest import SPEECH

RATE = 16_000
PIECE = RATE // 5  # 200 ms


@pytest.fixture(scope="module")
def speech() -> np.ndarray:
    return sf.read(SPEECH, dtype="int16")[0]  # 4.3 s of 16-bit PCM


def client_for(pipe, **settings) -> TestClient:
    return TestClient(create_app(pipe, ServerSettings(model_name="soundwave-tiny", **settings)))


def events_until(ws, kind: str) -> list[dict]:
    """Every event received up to and including the first of type `kind`."""
    events = []
    while True:
        events.append(ws.receive_json())
        if events[-1]["type"] == kind:
            return events


def send_pcm(ws, pcm: np.ndarray) -> None:
    for at in range(0, pcm.shape[0], PIECE):
        ws.send_bytes(pcm[at : at + PIECE].astype("<i2").tobytes())


def finals(events) -> list[str]:
    return [e["text"] for e in events if e["type"] == "final"]


def library_finals(pipe, wave: np.ndarray) -> list[str]:
    stream = pipe.listen()
    events = stream.feed(wave) + stream.finish()
    return [e.text for e in events if e.type == "final"]


def test_captions_then_a_question(pipe, speech):
    with client_for(pipe) as client, client.websocket_connect("/v1/listen") as ws:
        send_pcm(ws, speech)
        ws.send_json({"type": "finish"})
        events = events_until(ws, "finished")
        ws.send_json({"type": "ask", "prompt": "What is said?", "options": {"max_new_tokens": 4}})
        answer = ws.receive_json()
    assert finals(events) == library_finals(pipe, speech.astype(np.float32) / 32768)
    assert events[-1] == {"type": "finished", "seconds": round(speech.shape[0] / RATE, 3)}
    assert all(set(e) == {"type", "text", "start", "end"} for e in events[:-1])
    assert any(e["type"] == "partial" and e["text"] for e in events)
    assert answer["type"] == "answer" and answer["text"] and answer["heard_from"] == 0.0
    assert 0 < answer["output_tokens"] <= 4 and answer["audio_seconds"] == pytest.approx(4.284)


def test_float32_at_another_rate_is_resampled(pipe, speech):
    import soxr

    wave = soxr.resample(speech.astype(np.float32) / 32768, RATE, 8_000).astype("<f4")
    with client_for(pipe) as client, client.websocket_connect("/v1/listen") as ws:
        ws.send_text(json.dumps({"type": "start", "format": "float32", "sample_rate": 8_000}))
        for at in range(0, wave.shape[0], 1_600):
            ws.send_bytes(wave[at : at + 1_600].tobytes())
        ws.send_json({"type": "finish"})
        events = events_until(ws, "finished")
    assert finals(events) and events[-1]["seconds"] == pytest.approx(4.284, abs=0.01)


@pytest.mark.parametrize(
    ("message", "expected"),
    [
        (b"\x00\x01\x02", "whole 2-byte samples"),
        ("not json", "JSON objects"),
        ('["a list"]', "JSON objects"),
        ('{"type": "dance"}', "unknown message type"),
        ('{"type": "ask", "prompt": ""}', "non-empty string"),
        ('{"type": "ask", "prompt": "Hi", "options": {"num_beams": 99}}', "num_beams"),
        ('{"type": "ask", "prompt": "Hi", "options": {"unknown": 1}}', "unknown generation option"),
        ('{"type": "ask", "prompt": "Hi", "extra": 1}', "unknown field"),
        ('{"type": "start"}', "first message"),
        (b"\x00" * (11 * RATE * 2), "at most 10 s"),
    ],
    ids=[
        "odd-bytes",
        "not-json",
        "not-object",
        "unknown-type",
        "empty-prompt",
        "bad-option",
        "unknown-option",
        "unknown-field",
        "late-start",
        "too-long",
    ],  # fmt: skip
)
def test_bad_input_is_an_error_event_and_the_stream_goes_on(pipe, speech, message, expected):
    with client_for(pipe) as client, client.websocket_connect("/v1/listen") as ws:
        send_pcm(ws, speech[:RATE])
        events = []
        if isinstance(message, bytes):
            ws.send_bytes(message)
        else:
            ws.send_text(message)
        events = events_until(ws, "error")
        assert expected in events[-1]["message"]
        send_pcm(ws, speech[RATE:])
        ws.send_json({"type": "finish"})
        events += events_until(ws, "finished")
    assert finals(events) == library_finals(pipe, speech.astype(np.float32) / 32768)


def test_out_of_order_and_out_of_range_input(pipe, speech):
    with client_for(pipe) as client, client.websocket_connect("/v1/listen") as ws:
        ws.send_text(json.dumps({"type": "start", "format": "mp3"}))
        assert "format must be one of" in events_until(ws, "error")[-1]["message"]
        ws.send_text(json.dumps({"type": "start", "sample_rate": 100}))
        assert "sample_rate" in events_until(ws, "error")[-1]["message"]
        ws.send_text(json.dumps({"type": "start", "format": "float32"}))
        ws.send_bytes(np.array([0.1, np.inf], "<f4").tobytes())
        assert "NaN or infinite" in events_until(ws, "error")[-1]["message"]
        ws.send_bytes(np.array([0.1, 5e3], "<f4").tobytes())
        assert "within [-1, 1]" in events_until(ws, "error")[-1]["message"]
        ws.send_json({"type": "finish"})
        assert events_until(ws, "finished")[-1]["seconds"] == 0.0
        ws.send_bytes(np.zeros(10, "<f4").tobytes())
        assert "finished" in events_until(ws, "error")[-1]["message"]
        ws.send_json({"type": "ask", "prompt": "Anything?", "options": {"max_new_tokens": 2}})
        assert ws.receive_json()["type"] == "answer"  # still answered


def test_the_api_key_is_checked(pipe, speech):
    with client_for(pipe, api_key="sesame") as client:
        with client.websocket_connect("/v1/listen") as ws:
            ws.send_bytes(speech[:PIECE].tobytes())
            assert "API key" in ws.receive_json()["message"]
            with pytest.raises(WebSocketDisconnect) as closed:
                ws.receive_json()
            assert closed.value.code == 1008
        with client.websocket_connect("/v1/listen") as ws:
            ws.send_json({"type": "start", "api_key": "wrong"})
            assert "API key" in ws.receive_json()["message"]
        for headers, start in (({"Authorization": "Bearer sesame"}, {}), ({}, {"api_key": "sesame"})):
            with client.websocket_connect("/v1/listen", headers=headers) as ws:
                ws.send_json({"type": "start", **start})
                ws.send_json({"type": "finish"})
                assert events_until(ws, "finished")[-1]["type"] == "finished"


def test_stream_limits(pipe, speech):
    with client_for(pipe, max_stream_seconds=2.0, max_streams=1) as client:
        with client.websocket_connect("/v1/listen") as ws:
            with client.websocket_connect("/v1/listen") as other:  # one stream at a time
                assert "server busy" in other.receive_json()["message"]
                with pytest.raises(WebSocketDisconnect) as closed:
                    other.receive_json()
                assert closed.value.code == 1013
            send_pcm(ws, speech)
            events = events_until(ws, "finished")
            assert any("--max-stream-seconds" in e.get("message", "") for e in events)
            assert events[-1]["seconds"] == 2.0
            assert "finished" in events_until(ws, "error")[-1]["message"]  # the audio sent past the limit
        with client.websocket_connect("/v1/listen") as ws:  # the slot is free again once the client left
            ws.send_json({"type": "finish"})
            assert events_until(ws, "finished")[-1]["seconds"] == 0.0


def test_a_vanished_client_does_not_hold_up_others(pipe, speech):
    with client_for(pipe) as client:
        with client.websocket_connect("/v1/listen") as gone:
            send_pcm(gone, speech)  # and leaves without reading a thing
        with client.websocket_connect("/v1/listen") as ws:
            send_pcm(ws, speech[: 2 * RATE])
            ws.send_json({"type": "finish"})
            assert finals(events_until(ws, "finished"))


def test_a_pipeline_that_cannot_listen_says_so(fake):
    with client_for(fake) as client, client.websocket_connect("/v1/listen") as ws:
        ws.send_bytes(b"\x00\x00" * 100)
        assert "cannot stream" in ws.receive_json()["message"]
        with pytest.raises(WebSocketDisconnect) as closed:
            ws.receive_json()
        assert closed.value.code == 1011


async def documented_client(url: str, wave: np.ndarray, pace: float = 0.0) -> tuple[list[dict], str]:
    """The client of docs/live.md (there `pace` is 0.2: audio sent at real time)."""
    from websockets.asyncio.client import connect

    finals = []
    async with connect(url) as ws:

        async def send() -> None:
            for at in range(0, len(wave), 3200):  # 200 ms pieces of 16 kHz 16-bit PCM
                await ws.send(wave[at : at + 3200].tobytes())
                await asyncio.sleep(pace)
            await ws.send(json.dumps({"type": "finish"}))

        sender = asyncio.create_task(send())
        async for message in ws:
            event = json.loads(message)
            if event["type"] == "final":
                finals.append(event)
            elif event["type"] == "finished":
                break
        await sender
        await ws.send(json.dumps({"type": "ask", "prompt": "What was it about?", "options": {"max_new_tokens": 3}}))
        answer = json.loads(await ws.recv())
    return finals, answer["text"]


def test_the_documented_websockets_client_over_uvicorn(pipe, live_server, speech):
    """The client of docs/live.md against a real server (uvicorn's WebSocket support is installed)."""
    url = live_server.replace("http", "ws") + "/v1/listen"
    finals, answer = asyncio.run(asyncio.wait_for(documented_client(url, speech.astype("<i2")), 120))
    assert [e["text"] for e in finals] == library_finals(pipe, speech.astype(np.float32) / 32768)
    assert answer
