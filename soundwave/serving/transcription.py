"""`POST /v1/audio/transcriptions`: its form fields, and a `Result` in the response format asked for.

    json          {"text", "usage"}                    text       the transcript (text/plain)
    srt, vtt      the segments as subtitles (text/plain, as OpenAI answers them)
    verbose_json  {"task", "language", "duration", "text", "segments", "words" (when asked), "usage"}

Timestamps follow OpenAI's rules: `timestamp_granularities[]` (`word`, `segment`; default `segment`) shapes only a
`verbose_json` answer, which has segments unless only `word` was asked for and words only when `word` was; `word`
with any other format is a 400 (a `segment`, the default, is accepted and changes nothing). The times come from
`Pipeline.transcribe_batch(timestamps=...)` (the model's CTC, `soundwave.alignment`), the subtitles from
`soundwave.alignment.subtitles`, the JSON from `soundwave.alignment.result.verbose_json`: nothing is re-done here.
"""

from __future__ import annotations

from typing import Literal, get_args

from fastapi.responses import JSONResponse, PlainTextResponse, Response

from soundwave.alignment import check_token_ctc
from soundwave.alignment.result import verbose_json
from soundwave.alignment.subtitles import to_srt, to_vtt
from soundwave.errors import ConfigError, SoundwaveError
from soundwave.inference.pipeline import TIMESTAMPS, Result
from soundwave.options import OPTIONS, parse_value
from soundwave.serving.errors import ApiError
from soundwave.serving.schemas import Transcription, TranscriptionUsage

ResponseFormat = Literal["json", "text", "srt", "vtt", "verbose_json"]
RESPONSE_FORMATS = get_args(ResponseFormat)
Granularity = Literal[TIMESTAMPS]  # type: ignore[valid-type]  # the pipeline's choices: word, segment
GRANULARITIES = "timestamp_granularities[]"  # the form field's name, brackets included (as OpenAI's clients send it)
SUBTITLES = {"srt": to_srt, "vtt": to_vtt}
FIELDS = {"file", "model", "prompt", "response_format", "temperature", "language", GRANULARITIES}


def form_options(form) -> dict:
    """The decoding options among a transcription request's form fields (typed; ranges are checked by the
    options' declaration). Raises ApiError 400 naming an unknown field or a value of the wrong type."""
    declared = {spec.name: spec for spec in OPTIONS if spec.name not in ("temperature", "do_sample")}
    options = {}
    for key, value in form.multi_items():
        if key in FIELDS:
            continue
        if key not in declared:
            raise ApiError(400, f"unknown field {key!r}", code="unknown_parameter", param=key)
        try:
            options[key] = parse_value(declared[key], str(value))
        except ConfigError as err:
            raise ApiError(400, f"invalid generation option: {err}", code="invalid_option", param=key) from err
    return options


def timestamps_for(response_format: str, granularities: list[str] | None) -> str | None:
    """What `Pipeline.transcribe_batch(timestamps=...)` must compute for this answer: "word", "segment" or None.

    Raises:
        ApiError: 400 for `word` granularity without `verbose_json` (OpenAI answers 400 too).
    """
    granularities = granularities or []
    if "word" in granularities and response_format != "verbose_json":
        raise ApiError(
            400,
            f"timestamp_granularities: 'word' needs response_format 'verbose_json', got {response_format!r}",
            code="invalid_value",
            param=GRANULARITIES,
        )
    if response_format == "verbose_json":
        return "word" if "word" in granularities else "segment"
    return "segment" if response_format in SUBTITLES else None


def check_can_time(pipeline, timestamps: str | None, response_format: str) -> None:
    """400 before anything is queued when timestamps are needed and the model has no token CTC to place them."""
    if timestamps is None:
        return
    try:
        check_token_ctc(pipeline.model)
    except SoundwaveError as err:
        what = f"response_format {response_format!r}"
        raise ApiError(
            400, f"{what} needs timestamps: {err}", code="timestamps_unsupported", param=GRANULARITIES
        ) from err


def response(result: Result, response_format: str, granularities: list[str] | None) -> Response:
    """The answer in `response_format`; for verbose_json, `granularities` pick its lists (OpenAI's rules)."""
    if response_format == "text":
        return PlainTextResponse(result.text)
    if response_format in SUBTITLES:
        return PlainTextResponse(SUBTITLES[response_format](result.segments or []))
    if response_format == "verbose_json":
        granularities = granularities or ["segment"]
        words = result.words if "word" in granularities else None
        segments = result.segments if "segment" in granularities else None
        body = verbose_json(result.text, result.audio_seconds, words, segments)
        body["usage"] = {"type": "duration", "seconds": body["duration"]}  # OpenAI's usage of verbose_json
        return JSONResponse(body)
    usage = TranscriptionUsage(
        input_tokens=result.input_tokens,
        output_tokens=result.output_tokens,
        total_tokens=result.input_tokens + result.output_tokens,
    )
    return JSONResponse(Transcription(text=result.text, usage=usage).model_dump())
