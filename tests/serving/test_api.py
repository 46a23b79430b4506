"""The API end to end in-process (TestClient) on the tiny reference model: chat, streaming, history, transcripts."""

from __future__ import annotations

import json

import pytest
from fastapi.testclient import TestClient

from soundwave.serving import ServerSettings, create_app
from tests.serving.conftest import audio_message, wav_bytes


@pytest.fixture(scope="module")
def client(pipe):
    with TestClient(create_app(pipe, ServerSettings(model_name="soundwave-tiny"))) as client:
        yield client


def test_chat_completion_with_audio_has_text_and_usage(client, speech_bytes):
    response = client.post(
        "/v1/chat/completions",
        json={"model": "anything", "messages": [audio_message(speech_bytes)], "temperature": 0, "max_tokens": 4},
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["object"] == "chat.completion" and body["model"] == "soundwave-tiny"
    choice = body["choices"][0]
    assert choice["message"]["role"] == "assistant" and choice["message"]["content"]
    usage = body["usage"]
    assert usage["completion_tokens"] == 4 and choice["finish_reason"] == "length"  # random model: never stops
    assert usage["prompt_tokens"] > 50  # text prompt + audio vectors of 4.3 s
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"]


def test_stream_sends_openai_chunks_then_done_with_the_same_text(client, speech_bytes):
    request = {"messages": [audio_message(speech_bytes)], "temperature": 0, "max_tokens": 4}
    whole = client.post("/v1/chat/completions", json=request).json()["choices"][0]["message"]["content"]
    with client.stream("POST", "/v1/chat/completions", json=request | {"stream": True}) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        lines = [line for line in response.iter_lines() if line]
    assert all(line.startswith("data: ") for line in lines)
    assert lines[-1] == "data: [DONE]"
    chunks = [json.loads(line[6:]) for line in lines[:-1]]
    assert all(c["object"] == "chat.completion.chunk" and len({c["id"] for c in chunks}) == 1 for c in chunks)
    assert chunks[0]["choices"][0]["delta"]["role"] == "assistant"
    assert chunks[-1]["choices"][0]["finish_reason"] in ("stop", "length")
    text = "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks)
    assert text.strip() == whole


def test_earlier_messages_become_history_with_their_audio(client, speech_bytes):
    messages = [
        {"role": "system", "content": "Answer briefly."},
        audio_message(speech_bytes, "What is said?"),
        {"role": "assistant", "content": "Something."},
        {"role": "user", "content": [{"type": "text", "text": "Say it again."}]},
    ]
    response = client.post("/v1/chat/completions", json={"messages": messages, "temperature": 0, "max_tokens": 3})
    assert response.status_code == 200, response.text
    alone = client.post(
        "/v1/chat/completions",
        json={"messages": [{"role": "user", "content": "Say it again."}], "temperature": 0, "max_tokens": 3},
    )
    # the recording in the history costs audio vectors: far more prompt tokens than the question alone
    assert response.json()["usage"]["prompt_tokens"] > alone.json()["usage"]["prompt_tokens"] + 50


def test_transcriptions_json_and_text(client, speech_bytes):
    files = {"file": ("clip.wav", speech_bytes, "audio/wav")}
    response = client.post("/v1/audio/transcriptions", files=files, data={"model": "whisper-1", "language": "en"})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["text"] and body["usage"]["type"] == "tokens" and body["usage"]["output_tokens"] > 0
    text = client.post("/v1/audio/transcriptions", files=files, data={"response_format": "text"})
    assert text.headers["content-type"].startswith("text/plain") and text.text == body["text"]  # both greedy


def test_transcriptions_take_decoding_options_as_form_fields(client, pipe, speech_bytes):
    from soundwave.serving.chat import AUDIO_ONLY_PROMPT

    assert pipe.transcription.ctc_weight == 0  # the reference folder has no generation.yaml: the release's defaults
    files = {"file": ("clip.wav", speech_bytes, "audio/wav")}
    data = {"response_format": "text", "ctc_weight": "0.5", "max_new_tokens": "6"}
    served = client.post("/v1/audio/transcriptions", files=files, data=data).text
    joint, alone = (
        pipe.generate(speech_bytes, AUDIO_ONLY_PROMPT, greedy=True, max_new_tokens=6, ctc_weight=w).text
        for w in (0.5, 0.0)
    )
    assert served == joint != alone
    for bad, field in [({"num_beams": "0"}, "num_beams"), ({"num_beams": "x"}, "num_beams"), ({"beams": "2"}, "beams")]:
        response = client.post("/v1/audio/transcriptions", files=files, data=bad)
        assert response.status_code == 400 and field in response.json()["error"]["message"], response.text


def test_flac_upload_is_decoded(client):
    files = {"file": ("noise.flac", wav_bytes(1.0, fmt="FLAC"), "audio/flac")}
    assert client.post("/v1/audio/transcriptions", files=files, data={"response_format": "text"}).status_code == 200


def test_models_health_page_and_openapi(client):
    models = client.get("/v1/models").json()
    assert models["object"] == "list" and [m["id"] for m in models["data"]] == ["soundwave-tiny"]
    assert client.get("/v1/models/soundwave-tiny").json()["id"] == "soundwave-tiny"
    assert client.get("/v1/models/gpt-4o").json()["error"]["code"] == "model_not_found"
    health = client.get("/health").json()
    assert health == {"status": "ok", "model": "soundwave-tiny", "queued": 0, "auth_required": False}
    page = client.get("/")
    assert page.status_code == 200 and "MediaRecorder" in page.text and "/v1/chat/completions" in page.text
    assert "http://" not in page.text and "https://" not in page.text  # nothing fetched from elsewhere
    paths = client.get("/openapi.json").json()["paths"]
    assert {"/v1/chat/completions", "/v1/audio/transcriptions", "/v1/models", "/health"} <= set(paths)


def test_timestamps_need_a_ctc_head(pipe, speech_bytes):
    import torch

    from soundwave.inference.pipeline import Pipeline

    no_ctc = Pipeline(torch.nn.Linear(1, 1), pipe.processor)  # the SpeechLLM design has no token CTC
    files = {"file": ("clip.wav", speech_bytes, "audio/wav")}
    with TestClient(create_app(no_ctc)) as client:
        for response_format in ("verbose_json", "srt", "vtt"):
            response = client.post("/v1/audio/transcriptions", files=files, data={"response_format": response_format})
            error = response.json()["error"]
            assert response.status_code == 400 and error["code"] == "timestamps_unsupported", response.text
            assert "CTC head" in error["message"] and response_format in error["message"]
