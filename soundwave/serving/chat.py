"""OpenAI chat messages -> one pipeline `Item` (+ generation options), and results -> OpenAI responses.

The last message must be the user's: its text parts are the prompt and its `input_audio` part (at most one) the
recording. Earlier messages become history turns (their recordings, in order, the item's `history_audio`);
system/developer messages become system turns. An audio-only question gets `AUDIO_ONLY_PROMPT`.
"""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass

from soundwave.inference.pipeline import Item, Result
from soundwave.prompts import TRANSCRIBE_PROMPT, Turn
from soundwave.serving.audio_input import decode_base64, load_request_audio, seconds
from soundwave.serving.errors import ApiError
from soundwave.serving.schemas import (
    DECODING_FIELDS,
    AssistantMessage,
    ChatCompletion,
    ChatCompletionChunk,
    ChatCompletionRequest,
    Choice,
    ChunkChoice,
    Delta,
    InputAudioPart,
    Usage,
)
from soundwave.serving.settings import ServerSettings

AUDIO_ONLY_PROMPT = TRANSCRIBE_PROMPT  # an audio-only question asks what `soundwave transcribe` asks
MAX_STOP = 4


def generation_options(request: ChatCompletionRequest) -> dict:
    """The request's sampling fields as `GenerationConfig` overrides (temperature 0 means greedy)."""
    options: dict = {}
    max_tokens = request.max_completion_tokens or request.max_tokens
    if max_tokens is not None:
        options["max_new_tokens"] = max_tokens
    if request.temperature is not None:
        if request.temperature == 0:
            options["greedy"] = True
        else:
            options["temperature"] = request.temperature
    for name in DECODING_FIELDS:
        if getattr(request, name) is not None:
            options[name] = getattr(request, name)
    if request.stop:
        stop = (request.stop,) if isinstance(request.stop, str) else tuple(request.stop)
        if len(stop) > MAX_STOP:
            raise ApiError(400, f"stop: at most {MAX_STOP} stop strings, got {len(stop)}", param="stop")
        options["stop"] = stop
    return options


@dataclass(frozen=True)
class PromptLimit:
    """The most text tokens a request's messages may hold, and what sets it (for the error message)."""

    tokens: int
    source: str
    chars_per_token: int | None  # the tokenizer's longest token: text over `tokens` x this is refused untokenized


def prompt_limit(pipeline, settings: ServerSettings) -> PromptLimit:
    """`settings.max_prompt_tokens`, or the model's context when smaller."""
    limit = PromptLimit(settings.max_prompt_tokens, "--max-prompt-tokens", _longest_token(pipeline.tokenizer))
    context = getattr(pipeline, "context_length", None)
    if context is not None and context < limit.tokens:
        return PromptLimit(context, "the model's context", limit.chars_per_token)
    return limit


def _longest_token(tokenizer) -> int | None:
    """Characters of the tokenizer's longest vocabulary entry: no token covers more characters of text (byte-level
    and SentencePiece vocabularies spell each byte or character with at least one). None when it has no vocab."""
    vocab = getattr(tokenizer, "get_vocab", None)
    return max(map(len, vocab()), default=None) if vocab is not None else None


def check_prompt_size(request: ChatCompletionRequest, tokenizer, limit: PromptLimit) -> None:
    """Refuse a request whose messages' text is over `limit` tokens: text too long to fit even at the longest
    token is refused without tokenizing it (a 5 MB prompt costs nothing), the rest is counted.

    Raises:
        ApiError: 400 `context_length_exceeded`.
    """
    check_text_size([text for message in request.messages for text in _texts(message.content)], tokenizer, limit)


def check_text_size(texts: list[str], tokenizer, limit: PromptLimit, param: str = "messages") -> None:
    """Refuse `texts` (all together) over `limit` tokens, as `check_prompt_size` does; `param` names them.

    Raises:
        ApiError: 400 `context_length_exceeded`.
    """
    chars = sum(map(len, texts))
    if limit.chars_per_token is not None and chars > limit.tokens * limit.chars_per_token:
        raise ApiError(
            400,
            f"{param}: {chars:,} characters of text cannot fit in {limit.tokens:,} tokens ({limit.source}; no "
            f"token of this model spells more than {limit.chars_per_token} characters)",
            code="context_length_exceeded",
            param=param,
        )
    tokens = sum(len(tokenizer(text, add_special_tokens=False)["input_ids"]) for text in texts)
    if tokens > limit.tokens:
        raise ApiError(
            400,
            f"{param}: {tokens:,} tokens of text, over the limit of {limit.tokens:,} ({limit.source})",
            code="context_length_exceeded",
            param=param,
        )


def _texts(content) -> list[str]:
    if content is None:
        return []
    if isinstance(content, str):
        return [content]
    return [part.text for part in content if not isinstance(part, InputAudioPart)]


def to_item(request: ChatCompletionRequest, settings: ServerSettings) -> Item:
    """Build the pipeline item, decoding every recording (CPU-bound: call it from a worker thread). The
    recordings share `settings.max_audio_seconds`: none is decoded past what the earlier ones left.

    Raises:
        ApiError: 400 for a conversation the model cannot take, or bad audio; 413 over a limit.
    """
    history: list[Turn] = []
    history_audio = []
    last = len(request.messages) - 1
    if request.messages[last].role != "user":
        raise ApiError(400, f"messages[{last}]: the last message must have role 'user'", param="messages")
    audio, prompt, used = None, "", 0.0
    for index, message in enumerate(request.messages):
        where = f"messages[{index}]"
        text, recording = _parts(message.content, where, message.role, settings, used)
        used += seconds(recording) if recording is not None else 0.0
        if index == last:
            audio, prompt = recording, text
        elif message.role in ("system", "developer"):
            history.append(Turn("system", text))
        else:
            history.append(Turn(message.role, text, audio=recording is not None))
            if recording is not None:
                history_audio.append(recording)
    if audio is None and not prompt.strip():
        raise ApiError(400, f"messages[{last}]: the user message has neither text nor audio", param="messages")
    if audio is not None and not prompt.strip():
        prompt = AUDIO_ONLY_PROMPT
    return Item(audio, prompt, tuple(history), sampling_rate=16_000, history_audio=tuple(history_audio))


def _parts(content, where: str, role: str, settings: ServerSettings, used: float):
    """(text, waveform or None) of one message's content; `used`: seconds of audio the earlier messages took."""
    if content is None:
        return "", None
    if isinstance(content, str):
        return content, None
    texts, recording = [], None
    for number, part in enumerate(content):
        if isinstance(part, InputAudioPart):
            part_where = f"{where}.content[{number}].input_audio"
            if role != "user":
                raise ApiError(400, f"{part_where}: only user messages may carry audio", param=part_where)
            if recording is not None:
                raise ApiError(400, f"{part_where}: at most one input_audio part per message", param=part_where)
            raw = decode_base64(part.input_audio.data, part_where, settings)
            recording = load_request_audio(raw, part_where, settings, used)
        else:
            texts.append(part.text)
    return "\n".join(texts), recording


def completion_id() -> str:
    return f"chatcmpl-{uuid.uuid4().hex}"


def finish_reason(output_tokens: int, options: dict, default_max: int) -> str:
    return "length" if output_tokens >= options.get("max_new_tokens", default_max) else "stop"


def completion(result: Result, model: str, options: dict, default_max: int) -> ChatCompletion:
    """The non-streaming response for one result."""
    return ChatCompletion(
        id=completion_id(),
        created=int(time.time()),
        model=model,
        choices=[
            Choice(
                message=AssistantMessage(content=result.text),
                finish_reason=finish_reason(result.output_tokens, options, default_max),
            )
        ],
        usage=Usage(
            prompt_tokens=result.input_tokens,
            completion_tokens=result.output_tokens,
            total_tokens=result.input_tokens + result.output_tokens,
        ),
    )


def sse(payload: ChatCompletionChunk | dict | str) -> str:
    """One server-sent event: `data: <json>` and a blank line."""
    if isinstance(payload, ChatCompletionChunk):
        body = payload.model_dump(exclude_none=True)
        for choice in body["choices"]:
            choice.setdefault("finish_reason", None)  # OpenAI sends an explicit null until the last chunk
        payload = body
    if isinstance(payload, dict):
        payload = json.dumps(payload, ensure_ascii=False)
    return f"data: {payload}\n\n"


def chunk(chunk_id: str, created: int, model: str, delta: Delta, finish: str | None = None) -> ChatCompletionChunk:
    return ChatCompletionChunk(
        id=chunk_id, created=created, model=model, choices=[ChunkChoice(delta=delta, finish_reason=finish)]
    )
