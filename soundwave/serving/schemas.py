"""Request and response bodies of the OpenAI-compatible API (the subset a speech model can honour).

Unknown request fields are rejected (as OpenAI does) rather than silently ignored, so a typo such as
`max_token` is a 400 that names it. Every text field is `Text`: a lone surrogate (`"\\ud800"`, valid JSON but not
valid Unicode text) is a 400 naming the field, on the streaming and the plain path alike.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, create_model

from soundwave.options import OPTIONS, option_type
from soundwave.prompts import check_text

Text = Annotated[str, AfterValidator(lambda text: check_text(text, "text"))]  # encodable: tokenizers can take it

AudioFormat = Literal["wav", "mp3", "flac", "ogg"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


# ---- chat completions: request -------------------------------------------------------------------------------------
class TextPart(_Strict):
    type: Literal["text"]
    text: Text


class InputAudio(_Strict):
    data: str = Field(description="the audio file, base64-encoded (a `data:audio/...;base64,` prefix is allowed)")
    format: AudioFormat


class InputAudioPart(_Strict):
    type: Literal["input_audio"]
    input_audio: InputAudio


ContentPart = Annotated[TextPart | InputAudioPart, Field(discriminator="type")]


class Message(_Strict):
    role: Literal["system", "developer", "user", "assistant"]
    content: Text | list[ContentPart] | None = None
    name: Text | None = None


class StreamOptions(_Strict):
    include_usage: bool = False


class _ChatCompletionFields(_Strict):
    """`POST /v1/chat/completions`. The last message must be the user's; earlier ones become history."""

    model: Text | None = Field(default=None, description="accepted for compatibility; the server has one model")
    messages: list[Message] = Field(min_length=1)
    stream: bool = False
    stream_options: StreamOptions | None = None
    temperature: float | None = Field(default=None, ge=0, le=2, description="0 means greedy decoding")
    max_tokens: int | None = Field(default=None, ge=1)
    max_completion_tokens: int | None = Field(default=None, ge=1, description="wins over max_tokens")
    stop: Text | list[Text] | None = Field(default=None, description="up to 4 stop strings")
    n: int = Field(default=1, ge=1, le=1, description="only 1 is supported")
    user: Text | None = None


# OpenAI's names for options (temperature 0 means greedy; max_tokens is max_new_tokens); every other decoding option
# of soundwave.options is a request field of its own name, typed from its declaration and range-checked there.
OPENAI_NAMED = {"max_new_tokens", "do_sample", "temperature", "stop"}
DECODING_FIELDS = tuple(spec.name for spec in OPTIONS if spec.name not in OPENAI_NAMED)
ChatCompletionRequest = create_model(
    "ChatCompletionRequest",
    __base__=_ChatCompletionFields,
    __doc__=_ChatCompletionFields.__doc__,
    **{
        spec.name: (option_type(spec) | None, Field(default=None, description=spec.metadata["help"]))
        for spec in OPTIONS
        if spec.name in DECODING_FIELDS
    },
)


# ---- chat completions: response ------------------------------------------------------------------------------------
class Usage(BaseModel):
    prompt_tokens: int
    completion_tokens: int
    total_tokens: int


class AssistantMessage(BaseModel):
    role: Literal["assistant"] = "assistant"
    content: str


class Choice(BaseModel):
    index: int = 0
    message: AssistantMessage
    finish_reason: Literal["stop", "length"]


class ChatCompletion(BaseModel):
    id: str
    object: Literal["chat.completion"] = "chat.completion"
    created: int
    model: str
    choices: list[Choice]
    usage: Usage


class Delta(BaseModel):
    role: Literal["assistant"] | None = None
    content: str | None = None


class ChunkChoice(BaseModel):
    index: int = 0
    delta: Delta
    finish_reason: Literal["stop", "length"] | None = None


class ChatCompletionChunk(BaseModel):
    """One server-sent event of a streamed answer (`data: {...}`), ending with `data: [DONE]`."""

    id: str
    object: Literal["chat.completion.chunk"] = "chat.completion.chunk"
    created: int
    model: str
    choices: list[ChunkChoice]
    usage: Usage | None = None


# ---- transcriptions, models, health, errors ------------------------------------------------------------------------
class TranscriptionUsage(BaseModel):
    type: Literal["tokens"] = "tokens"
    input_tokens: int
    output_tokens: int
    total_tokens: int


class Transcription(BaseModel):
    text: str
    usage: TranscriptionUsage


class TranscriptionWord(BaseModel):
    word: str
    start: float
    end: float
    confidence: float | None = Field(default=None, description="ours: mean CTC posterior of the word, in [0, 1]")
    interpolated: bool = Field(default=False, description="ours: present (true) when the CTC could not place it")


class TranscriptionSegment(BaseModel):
    """OpenAI's segment; the decoder fields a CTC alignment has no value for are 0 (`tokens`: [])."""

    id: int
    seek: int
    start: float
    end: float
    text: str
    tokens: list[int]
    temperature: float
    avg_logprob: float
    compression_ratio: float
    no_speech_prob: float


class DurationUsage(BaseModel):
    type: Literal["duration"] = "duration"
    seconds: float


class TranscriptionVerbose(BaseModel):
    """`response_format=verbose_json` (built by `soundwave.alignment.result.verbose_json`): segments unless only
    `word` granularity was asked for, words when it was."""

    task: Literal["transcribe"] = "transcribe"
    language: str
    duration: float
    text: str
    words: list[TranscriptionWord] | None = None
    segments: list[TranscriptionSegment] | None = None
    usage: DurationUsage


class ModelCard(BaseModel):
    id: str
    object: Literal["model"] = "model"
    created: int
    owned_by: str = "soundwave"


class ModelList(BaseModel):
    object: Literal["list"] = "list"
    data: list[ModelCard]


class Health(BaseModel):
    status: Literal["ok"] = "ok"
    model: str
    queued: int = Field(description="requests waiting for the model")
    auth_required: bool


class ErrorDetail(BaseModel):
    message: str
    type: str
    code: str | None = None
    param: str | None = None


class ErrorResponse(BaseModel):
    error: ErrorDetail
