"""The official `openai` client against a live server on loopback: chat with input_audio, streaming, transcripts."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.serving.conftest import SPEECH, audio_message

openai = pytest.importorskip("openai", reason="pip install openai to test client compatibility")


@pytest.fixture(scope="module")
def client(live_server):
    return openai.OpenAI(base_url=f"{live_server}/v1", api_key="unused", max_retries=0, timeout=60)


def test_chat_with_input_audio(client, speech_bytes):
    response = client.chat.completions.create(
        model="soundwave-tiny", messages=[audio_message(speech_bytes)], max_tokens=4, temperature=0
    )
    assert response.choices[0].message.content
    assert response.usage.completion_tokens == 4 and response.usage.prompt_tokens > 50
    assert [m.id for m in client.models.list()] == ["soundwave-tiny"]


def test_streaming_chat(client, speech_bytes):
    request = {"model": "soundwave-tiny", "messages": [audio_message(speech_bytes)], "max_tokens": 4, "seed": 0}
    whole = client.chat.completions.create(**request, temperature=0).choices[0].message.content
    stream = client.chat.completions.create(**request, temperature=0, stream=True)
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks)
    assert text.strip() == whole and chunks[-1].choices[0].finish_reason in ("stop", "length")


def test_transcriptions(client):
    with SPEECH.open("rb") as f:
        transcript = client.audio.transcriptions.create(model="whisper-1", file=f, language="en")
    assert transcript.text and transcript.usage.output_tokens > 0
    with SPEECH.open("rb") as f:
        text = client.audio.transcriptions.create(model="whisper-1", file=f, response_format="text")
    assert isinstance(text, str) and text == transcript.text


def test_bad_audio_is_a_client_error_and_concurrent_requests_all_succeed(client, speech_bytes):
    with pytest.raises(openai.BadRequestError, match="input_audio"):
        client.chat.completions.create(model="m", messages=[audio_message(b"not audio at all")], max_tokens=2)

    def ask(index: int) -> str:
        message = audio_message(speech_bytes, f"Question {index}?")
        return client.chat.completions.create(model="m", messages=[message], max_tokens=3).choices[0].message.content

    with ThreadPoolExecutor(4) as pool:
        answers = list(pool.map(ask, range(4)))
    assert len(answers) == 4 and all(answers)
