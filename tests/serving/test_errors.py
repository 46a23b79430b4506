"""Bad input gets a clear OpenAI-style 4xx and the server goes on serving; the API key; the size/duration limits."""

from __future__ import annotations

import base64
import json
import struct

import pytest
from fastapi.testclient import TestClient

from soundwave.serving import ServerSettings, create_app
from tests.serving.conftest import audio_message, wav_bytes

CHAT = "/v1/chat/completions"
LIMITS = ServerSettings(max_upload_mb=0.05, max_audio_seconds=1.5)  # 50 kB, 1.5 s


@pytest.fixture(scope="module")
def client(pipe):
    with TestClient(create_app(pipe, LIMITS)) as client:
        yield client


def error_of(response, status: int) -> dict:
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert set(error) >= {"message", "type", "code"} and error["message"]
    return error


def test_bad_requests_get_clear_4xx_and_a_good_one_still_succeeds(client):
    good_clip = wav_bytes(1.0)  # 32 kB, 1 s: within the limits
    cases = [
        # (what, request kwargs, status, code, words the message must contain)
        (
            "malformed JSON",
            {"content": b'{"messages": [', "headers": {"content-type": "application/json"}},
            400,
            "invalid_json",
            "malformed JSON",
        ),
        (
            "wrong content type",
            {"content": b"hello", "headers": {"content-type": "text/plain"}},
            415,
            "unsupported_media_type",
            "application/json",
        ),
        (
            "base64 that is not audio",
            {"json": {"messages": [audio_message(b"just some text, not audio")]}},
            400,
            "invalid_audio",
            "messages[0].content[0].input_audio",
        ),
        (
            "not base64",
            {
                "json": {
                    "messages": [
                        {
                            "role": "user",
                            "content": [
                                {"type": "input_audio", "input_audio": {"data": "@@not base64@@", "format": "wav"}}
                            ],
                        }
                    ]
                }
            },
            400,
            "invalid_base64",
            "base64",
        ),
        ("empty audio", {"json": {"messages": [audio_message(b"")]}}, 400, "empty_audio", "empty"),
        ("oversize audio", {"json": {"messages": [audio_message(wav_bytes(3.0))]}}, 413, "audio_too_large", "0.05 MB"),
        (
            "too long audio",
            {"json": {"messages": [audio_message(wav_bytes(2.0, rate=8000))]}},
            413,
            "audio_too_long",
            "1.5 s",
        ),
        (
            "oversize body",
            {"content": b" " * 1_200_000, "headers": {"content-type": "application/json"}},
            413,
            "request_too_large",
            "MB",
        ),
        (
            "oversize chunked body (no Content-Length)",
            {"content": iter([b" " * 700_000, b" " * 700_000]), "headers": {"content-type": "application/json"}},
            413,
            "request_too_large",
            "MB",
        ),
        (
            "unknown field",
            {"json": {"messages": [{"role": "user", "content": "hi"}], "max_token": 3}},
            400,
            "invalid_request",
            "max_token: unrecognized",
        ),
        (
            "image part",
            {"json": {"messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "x"}}]}]}},
            400,
            "invalid_request",
            "image_url",
        ),
        (
            "last message not user",
            {"json": {"messages": [{"role": "assistant", "content": "hi"}]}},
            400,
            None,
            "role 'user'",
        ),
        (
            "temperature out of range",
            {"json": {"messages": [{"role": "user", "content": "hi"}], "temperature": 5}},
            400,
            "invalid_request",
            "temperature",
        ),
        ("n > 1", {"json": {"messages": [{"role": "user", "content": "hi"}], "n": 2}}, 400, "invalid_request", "n"),
        ("no messages", {"json": {"messages": []}}, 400, "invalid_request", "messages"),
    ]
    for what, kwargs, status, code, words in cases:
        error = error_of(client.post(CHAT, **kwargs), status)
        assert code is None or error["code"] == code, (what, error)
        assert words in error["message"], (what, error)
    ok = client.post(CHAT, json={"messages": [audio_message(good_clip)], "max_tokens": 2})
    assert ok.status_code == 200 and ok.json()["choices"][0]["message"]["content"]


def test_bad_uploads_on_transcriptions(client):
    upload = "/v1/audio/transcriptions"
    error = error_of(client.post(upload, files={"file": ("empty.wav", b"", "audio/wav")}), 400)
    assert "'empty.wav'" in error["message"] and error["code"] == "empty_audio"
    error = error_of(client.post(upload, files={"file": ("big.wav", wav_bytes(3.0), "audio/wav")}), 413)
    assert "--max-upload-mb" in error["message"]
    error = error_of(client.post(upload, files={"file": ("notes.txt", b"plain text", "text/plain")}), 400)
    assert "'notes.txt'" in error["message"]
    clip = {"file": ("ok.wav", wav_bytes(1.0), "audio/wav")}
    error = error_of(client.post(upload, files=clip, data={"response_format": "docx"}), 400)
    assert "response_format" in error["message"]
    error_of(client.post(upload, json={"file": "x"}), 415)
    error_of(client.post(upload, data={"model": "whisper-1"}, files={}), 415)  # urlencoded, no file
    assert client.post(upload, files=clip, data={"response_format": "text"}).status_code == 200


def test_unknown_route_and_method(client):
    assert error_of(client.get("/v1/nothing"), 404)["type"] == "not_found_error"
    error_of(client.get(CHAT), 405)


def test_server_side_paths_are_never_read(client, tmp_path):
    secret = tmp_path / "clip.wav"
    secret.write_bytes(wav_bytes(1.0))
    as_data = base64.b64encode(str(secret).encode()).decode()  # a path where audio bytes belong
    request = {
        "messages": [
            {"role": "user", "content": [{"type": "input_audio", "input_audio": {"data": as_data, "format": "wav"}}]}
        ]
    }
    assert error_of(client.post(CHAT, json=request), 400)["code"] == "invalid_audio"


def test_api_key_required_on_v1_only(pipe):
    with TestClient(create_app(pipe, ServerSettings(api_key="sekret"))) as client:
        missing = client.get("/v1/models")
        assert error_of(missing, 401)["code"] == "invalid_api_key"
        assert missing.headers["www-authenticate"] == "Bearer"
        error_of(client.get("/v1/models", headers={"Authorization": "Bearer wrong"}), 401)
        error_of(client.post(CHAT, json={"messages": [{"role": "user", "content": "hi"}]}), 401)
        assert client.get("/v1/models", headers={"Authorization": "Bearer sekret"}).status_code == 200
        assert client.get("/health").json()["auth_required"] is True
        assert client.get("/").status_code == 200


def float_wav(value: float) -> bytes:
    """Half a second of float WAV whose last two samples are `value`."""
    return wav_bytes(0.5, subtype="FLOAT")[:-8] + struct.pack("<2f", value, value)


@pytest.mark.parametrize("stream", [False, True], ids=["plain", "stream"])
def test_hostile_values_are_4xx_the_same_on_both_paths(client, stream):
    hi = [{"role": "user", "content": "hi"}]
    cases = [
        # (what, request fields, status, words the message must contain)
        ("seed over 2**64", {"seed": 2**64}, 400, "seed"),
        ("seed below -2**63", {"seed": -(2**63) - 1}, 400, "seed"),
        ("tiny temperature", {"temperature": 1e-46}, 400, "temperature"),
        ("tiny repetition penalty", {"repetition_penalty": 1e-46}, 400, "repetition_penalty"),
        ("surrogate in text", {"messages": [{"role": "user", "content": "a\ud800b"}]}, 400, "messages[0].content"),
        (
            "surrogate in a text part",
            {"messages": [{"role": "user", "content": [{"type": "text", "text": "\ud800"}]}]},
            400,
            "messages[0].content[0].text",
        ),
        (
            "surrogate in a history message",
            {"messages": [{"role": "system", "content": "\udfff"}, *hi]},
            400,
            "messages[0].content",
        ),
        ("surrogate in stop", {"stop": "\ud800"}, 400, "stop"),
        ("surrogate in a stop list", {"stop": ["ok", "x\ud800"]}, 400, "stop[1]"),
        ("a long stop string", {"stop": "x" * 10_000}, 400, "at most 100 characters"),  # 7 s of set-up, else
        ("surrogate in a field name", {"\ud800": 1}, 400, "valid string"),
        (
            "the audio placeholder as text",
            {"messages": [{"role": "user", "content": "say <audio_patch>"}]},
            400,
            "'<audio_patch>', which marks where a recording goes",
        ),
        ("float wav at 1e19", {"messages": [audio_message(float_wav(1e19))]}, 400, "samples reach 1e+19"),
        ("float wav with NaN", {"messages": [audio_message(float_wav(float("nan")))]}, 400, "NaN"),
    ]
    for what, fields, status, words in cases:
        body = {"messages": hi, "max_tokens": 2, "stream": stream} | fields
        # json.dumps escapes lone surrogates as \ud800, which is valid JSON: what a hostile client sends
        response = client.post(CHAT, content=json.dumps(body), headers={"content-type": "application/json"})
        error = error_of(response, status)
        assert words in error["message"], (what, error)
