"""The official `openai` client against a live server on loopback: chat with input_audio, streaming, transcripts,
and transcripts with word and segment times (verbose_json, srt, vtt)."""

from __future__ import annotations

import html
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


# ---- timestamps: verbose_json, srt, vtt (#34) ------------------------------------------------------------------------
SHORT = {"max_new_tokens": 40}  # a form field of its own (soundwave.options): the random model's text, 40 tokens
SEGMENT_FIELDS = {"id", "seek", "start", "end", "text", "tokens", "temperature", "avg_logprob", "compression_ratio"}
SEGMENT_FIELDS |= {"no_speech_prob"}


def transcribe(client, **request):
    with SPEECH.open("rb") as f:
        return client.audio.transcriptions.create(model="whisper-1", file=f, extra_body=SHORT, **request)


def unspaced(text: str) -> str:
    return "".join(text.split())


def clock_seconds(stamp: str) -> float:
    """WebVTT's "HH:MM:SS.mmm" in seconds."""
    hours, minutes, seconds = stamp.split(":")
    return round(int(hours) * 3600 + int(minutes) * 60 + float(seconds), 3)


@pytest.fixture(scope="module")
def verbose(client):
    return transcribe(client, response_format="verbose_json", timestamp_granularities=["word", "segment"])


def test_verbose_json_has_openai_schema_and_ordered_times(client, verbose):
    body = verbose.to_dict()
    openai.types.audio.TranscriptionVerbose.model_validate(body, strict=True)  # the client's own model, strictly
    assert body["task"] == "transcribe" and body["language"] == "english" and body["text"]
    assert abs(body["duration"] - 4.284) < 0.01 and body["usage"] == {"type": "duration", "seconds": body["duration"]}
    words, segments = body["words"], body["segments"]
    assert words and segments
    assert all({"word", "start", "end", "confidence"} <= set(w) for w in words)
    assert all(set(s) == SEGMENT_FIELDS for s in segments) and [s["id"] for s in segments] == list(range(len(segments)))
    for timed in (words, segments):
        assert all(0 <= t["start"] <= t["end"] <= body["duration"] for t in timed)
        assert all(a["end"] <= b["start"] + 1e-3 for a, b in zip(timed, timed[1:], strict=False))  # in order
    assert unspaced("".join(w["word"] for w in words)) == unspaced(body["text"])
    assert unspaced("".join(s["text"] for s in segments)) == unspaced(body["text"])
    plain = transcribe(client)  # json: timestamps never change the text
    assert plain.text == body["text"] and plain.usage.output_tokens <= SHORT["max_new_tokens"]
    assert transcribe(client, response_format="text") == body["text"]


def test_granularities_choose_the_lists(client, verbose):
    only_words = transcribe(client, response_format="verbose_json", timestamp_granularities=["word"])
    assert only_words.segments is None and [w.word for w in only_words.words] == [w.word for w in verbose.words]
    default = transcribe(client, response_format="verbose_json")  # OpenAI's default: segments, no words
    assert default.words is None and default.segments == verbose.segments


def test_srt_and_vtt_parse_and_match_the_segments(client, verbose):
    import srt
    import webvtt

    cues = list(srt.parse(transcribe(client, response_format="srt")))
    assert [(c.start.total_seconds(), c.end.total_seconds()) for c in cues] == [
        (s.start, s.end) for s in verbose.segments
    ]
    assert [unspaced(c.content) for c in cues] == [unspaced(s.text) for s in verbose.segments]
    captions = list(webvtt.from_string(transcribe(client, response_format="vtt")))
    assert [(clock_seconds(c.start), clock_seconds(c.end)) for c in captions] == [
        (s.start, s.end) for s in verbose.segments
    ]
    assert [unspaced(html.unescape(c.text)) for c in captions] == [unspaced(s.text) for s in verbose.segments]


def test_bad_granularities_are_400s_naming_the_field(client):
    with pytest.raises(openai.BadRequestError, match="timestamp_granularities"):
        transcribe(client, response_format="verbose_json", timestamp_granularities=["letter"])
    with pytest.raises(openai.BadRequestError, match="timestamp_granularities.*verbose_json"):
        transcribe(client, response_format="json", timestamp_granularities=["word"])
    assert transcribe(client, response_format="json", timestamp_granularities=["segment"]).text  # OpenAI accepts it
