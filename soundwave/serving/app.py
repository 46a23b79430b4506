"""`create_app(pipeline, settings)`: the OpenAI-compatible speech API and the web page, with no module-level state.

    POST /v1/chat/completions     messages with `input_audio` parts; `stream: true` for server-sent events
    POST /v1/audio/transcriptions multipart `file` (+ model, prompt, response_format, temperature, language,
                                  timestamp_granularities[], and any decoding option of soundwave.options), decoded
                                  as `soundwave transcribe` does; json, text, srt, vtt or verbose_json (word and
                                  segment times from the model's CTC: `transcription`)
    WS   /v1/listen               live captions from the model's CTC while audio streams in, then questions about
                                  what was said (`listen`, docs/live.md)
    GET  /v1/models, /health, /openapi.json, and / (the web page)

Requests go through one `Batcher` (bounded queue -> `generate_batch` on one model thread). Audio comes only
from the request body (base64 or upload), never from a server-side path. The limits of `ServerSettings` are
checked before a request is queued (body size and time, prompt tokens, audio seconds of all its recordings
together); a request that times out (504) or whose client disconnects stops its generation at the next step.
"""

# No `from __future__ import annotations` here: FastAPI must evaluate the routes' hints, which name locals
# (`Annotated[..., Depends(bearer)]`).
import asyncio
import secrets
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from importlib import resources
from typing import Annotated

from fastapi import Depends, FastAPI, File, Form, Request, UploadFile, WebSocket
from fastapi.responses import HTMLResponse, StreamingResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.concurrency import run_in_threadpool

from soundwave.errors import ConfigError, SoundwaveError
from soundwave.inference.pipeline import Item, Result
from soundwave.prompts import TRANSCRIBE_PROMPT
from soundwave.serving import chat, transcription
from soundwave.serving.audio_input import load_request_audio
from soundwave.serving.batcher import Batcher, StreamJob
from soundwave.serving.errors import ApiError, BodyLimit, install_error_handlers
from soundwave.serving.listen import LiveStreams
from soundwave.serving.schemas import (
    ChatCompletion,
    ChatCompletionRequest,
    Delta,
    ErrorResponse,
    Health,
    ModelCard,
    ModelList,
    Transcription,
    TranscriptionVerbose,
)
from soundwave.serving.settings import ServerSettings
from soundwave.serving.transcription import GRANULARITIES, Granularity, ResponseFormat

CHAT, TRANSCRIPTIONS = "/v1/chat/completions", "/v1/audio/transcriptions"
ERRORS = {status: {"model": ErrorResponse} for status in (400, 401, 408, 413, 415, 429, 504)}


def _page() -> str:
    return resources.files("soundwave.serving").joinpath("static/index.html").read_text(encoding="utf-8")


def create_app(pipeline, settings: ServerSettings | None = None) -> FastAPI:
    """The server for one loaded pipeline.

    Args:
        pipeline: a `soundwave.Pipeline` (or anything with its `generate_batch`, `transcribe_batch` and `stream`,
            each taking `should_stop`, and its `generation`, `transcription` and `tokenizer`; `transcribe_batch` takes
            `timestamps` and the pipeline has a `model`, for word and segment times).
        settings: limits, batching and the API key (defaults: `ServerSettings()`).

    Returns:
        The FastAPI application; run it with uvicorn, or in tests with `with TestClient(app) as client:`
        (the context manager starts the batcher).
    """
    settings = settings or ServerSettings()
    batcher = Batcher(pipeline, settings.max_batch, settings.queue_size, settings.batch_wait_ms)
    live = LiveStreams(pipeline, settings)
    started = int(time.time())
    page = _page()
    body_limit = settings.max_upload_bytes * 4 // 3 + 1_000_000  # base64 is 4/3 of the audio, + JSON/form fields
    prompt_limit = chat.prompt_limit(pipeline, settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await batcher.start()
        live.start()
        try:
            yield
        finally:
            live.stop()
            await batcher.stop()

    app = FastAPI(
        title="Soundwave speech API",
        version="1",
        description="OpenAI-compatible chat completions with audio input, and transcriptions.",
        lifespan=lifespan,
    )
    app.state.batcher, app.state.settings = batcher, settings
    app.add_middleware(BodyLimit, max_body_bytes=body_limit, body_timeout=settings.body_timeout)
    content_types = {CHAT: "application/json", TRANSCRIPTIONS: "multipart/form-data"}
    install_error_handlers(app, content_types, body_limit, settings.body_timeout)
    bearer = HTTPBearer(auto_error=False, description="required when the server was started with --api-key")

    def require_key(credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)] = None) -> None:
        if settings.api_key is None:
            return
        given = credentials.credentials if credentials is not None else ""
        if not secrets.compare_digest(given.encode(), settings.api_key.encode()):
            raise ApiError(
                401,
                "missing or invalid API key: send the header 'Authorization: Bearer <key>'",
                code="invalid_api_key",
                headers={"WWW-Authenticate": "Bearer"},
            )

    guarded = [Depends(require_key)]

    # ---- shared plumbing ----------------------------------------------------------------------------------------
    def check_options(options: dict, base=None) -> None:
        """400 unless `options` apply to `base` (default: the model's generation defaults)."""
        try:
            (base or pipeline.generation).with_overrides(**options)
        except (ConfigError, ValueError) as err:
            raise ApiError(400, f"invalid generation option: {err}", code="invalid_option") from err

    def busy() -> ApiError:
        return ApiError(
            429,
            f"server busy: {settings.queue_size} requests already queued (--queue-size); retry shortly",
            code="queue_full",
            headers={"Retry-After": "1"},
        )

    def timed_out() -> ApiError:
        return ApiError(504, f"the request took longer than {settings.timeout:g} s (--timeout)", code="timeout")

    def failed(err: BaseException) -> ApiError:
        if isinstance(err, SoundwaveError):
            return ApiError(400, f"generation failed: {err}", code="generation_failed")
        return ApiError(500, f"generation failed: {type(err).__name__}: {err}", code="internal_error")

    async def settled(waiting: Awaitable, http: Request, deadline: float, give_up: Callable[[], None]) -> object:
        """What `waiting` gives, unless the deadline passes (504) or the client disconnects first: then `give_up()`
        (its generation stops at the next step) and raise. Exceptions of `waiting` are raised as they are."""
        waiting, gone = asyncio.ensure_future(waiting), asyncio.ensure_future(disconnected(http))
        try:
            timeout = max(deadline - time.monotonic(), 0.001)
            done, _ = await asyncio.wait({waiting, gone}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
        finally:
            gone.cancel()
        if waiting in done:
            return waiting.result()
        waiting.cancel()
        give_up()
        if gone in done:  # nobody reads the answer; uvicorn drops it
            raise ApiError(499, "the client closed the connection", code="client_closed")
        raise timed_out()

    async def answer(
        item: Item,
        options: dict,
        deadline: float,
        http: Request,
        transcribe: bool = False,
        timestamps: str | None = None,
    ) -> Result:
        try:
            future = batcher.submit(item, options, transcribe=transcribe, timestamps=timestamps)
        except asyncio.QueueFull:
            raise busy() from None
        try:  # cancelling the future gives the job up (see Batcher)
            result = await settled(future, http, deadline, give_up=lambda: None)
        except ApiError:
            raise
        except Exception as err:
            raise failed(err) from err
        if result.error is not None:
            raise ApiError(400, result.error, code="generation_failed")
        return result

    # ---- routes -------------------------------------------------------------------------------------------------
    @app.get("/", include_in_schema=False)
    def index() -> HTMLResponse:
        return HTMLResponse(page)

    @app.get("/health", response_model=Health)
    def health() -> Health:
        return Health(model=settings.model_name, queued=batcher.queued, auth_required=settings.api_key is not None)

    @app.get("/v1/models", response_model=ModelList, dependencies=guarded, responses=ERRORS)
    def models() -> ModelList:
        return ModelList(data=[ModelCard(id=settings.model_name, created=started)])

    @app.get("/v1/models/{model_id}", response_model=ModelCard, dependencies=guarded, responses=ERRORS)
    def model(model_id: str) -> ModelCard:
        if model_id != settings.model_name:
            raise ApiError(
                404, f"no model {model_id!r}: this server has {settings.model_name!r}", code="model_not_found"
            )
        return ModelCard(id=settings.model_name, created=started)

    @app.post(
        CHAT,
        response_model=ChatCompletion,
        dependencies=guarded,
        responses=ERRORS | {200: {"content": {"text/event-stream": {}}, "description": "JSON, or SSE if stream"}},
    )
    async def chat_completions(request: ChatCompletionRequest, http: Request):
        deadline = time.monotonic() + settings.timeout
        if request.stream and request.stream_options and request.stream_options.include_usage:
            raise ApiError(
                400,
                "stream_options.include_usage is not supported: use stream: false to get usage",
                param="stream_options",
            )
        options = chat.generation_options(request)
        check_options(options)
        await run_in_threadpool(chat.check_prompt_size, request, pipeline.tokenizer, prompt_limit)
        item = await run_in_threadpool(chat.to_item, request, settings)
        if request.stream:
            return await stream(item, options, deadline, http)
        result = await answer(item, options, deadline, http)
        return chat.completion(result, settings.model_name, options, pipeline.generation.max_new_tokens)

    async def stream(item: Item, options: dict, deadline: float, http: Request) -> StreamingResponse:
        try:
            job = batcher.submit_stream(item, options)
        except asyncio.QueueFull:
            raise busy() from None
        # wait for the first piece before answering 200, so a timeout or a bad input is still a 4xx/5xx
        first = await settled(job.next_event(), http, deadline, give_up=job.cancel)
        if first[0] == "error":
            raise failed(first[1])  # type: ignore[arg-type]
        return StreamingResponse(
            events(job, first, options, deadline),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
        )

    async def events(job: StreamJob, first: tuple, options: dict, deadline: float) -> AsyncIterator[str]:
        chunk_id, created, model = chat.completion_id(), int(time.time()), settings.model_name
        pieces: list[str] = []
        try:
            yield chat.sse(chat.chunk(chunk_id, created, model, Delta(role="assistant", content="")))
            kind, value = first
            while kind == "piece":
                pieces.append(value)
                yield chat.sse(chat.chunk(chunk_id, created, model, Delta(content=value)))
                try:
                    kind, value = await asyncio.wait_for(job.next_event(), max(deadline - time.monotonic(), 0.001))
                except TimeoutError:
                    yield chat.sse(timed_out().body())
                    return
            if kind == "error":
                yield chat.sse(failed(value).body())
                return
            count = len(pipeline.tokenizer("".join(pieces), add_special_tokens=False)["input_ids"])
            finish = chat.finish_reason(count, options, pipeline.generation.max_new_tokens)
            yield chat.sse(chat.chunk(chunk_id, created, model, Delta(), finish))
            yield "data: [DONE]\n\n"
        finally:
            if not job.finished:
                job.cancel()  # the client left or timed out: stop generating at the next piece

    @app.post(
        TRANSCRIPTIONS,
        response_model=Transcription | TranscriptionVerbose,
        dependencies=guarded,
        responses=ERRORS | {200: {"content": {"text/plain": {}}, "description": "JSON, or text (text, srt, vtt)"}},
    )
    async def transcriptions(
        request: Request,
        file: Annotated[UploadFile, File(description="the audio file (wav, mp3, flac, ogg, ...)")],
        model: Annotated[str | None, Form(description="accepted for compatibility; the server has one model")] = None,
        prompt: Annotated[str | None, Form(description="accepted for compatibility; not used by this model")] = None,
        response_format: Annotated[ResponseFormat, Form()] = "json",
        temperature: Annotated[float | None, Form(description="0 decodes greedily; default: the model's own")] = None,
        language: Annotated[str | None, Form(description="accepted for compatibility; not used by this model")] = None,
        timestamp_granularities: Annotated[
            list[Granularity] | None,
            Form(alias=GRANULARITIES, description="with verbose_json: word and/or segment (default segment)"),
        ] = None,
    ):
        """Also takes any decoding option of `soundwave.options` as a form field (`num_beams`, `ctc_weight`, ...);
        the others are the model's transcription defaults, as in `soundwave transcribe`. Word and segment times
        (verbose_json, srt, vtt) come from the model's CTC (docs/timestamps.md)."""
        deadline = time.monotonic() + settings.timeout
        timestamps = transcription.timestamps_for(response_format, timestamp_granularities)
        transcription.check_can_time(pipeline, timestamps, response_format)
        form = await request.form()
        options = transcription.form_options(form)
        if temperature is not None:
            options |= {"do_sample": False} if temperature == 0 else {"do_sample": True, "temperature": temperature}
        check_options(options, pipeline.transcription)
        raw = await file.read()
        wave = await run_in_threadpool(load_request_audio, raw, f"file {file.filename!r}", settings)
        item = Item(wave, TRANSCRIBE_PROMPT, sampling_rate=16_000)
        result = await answer(item, options, deadline, request, transcribe=True, timestamps=timestamps)
        return transcription.response(result, response_format, timestamp_granularities)

    @app.websocket("/v1/listen")
    async def listen(websocket: WebSocket) -> None:
        """Live captions while audio streams in, then questions about it (the protocol: `soundwave.serving.listen`).
        The API key comes as `Authorization: Bearer` or in the first message (browsers cannot set the header)."""
        await live.serve(websocket)

    return app


async def disconnected(http: Request) -> None:
    """Return when the client disconnects. Call it after the body is read: the next ASGI message is then the
    disconnect (uvicorn sends it when the connection closes; the test client, after the response)."""
    while (await http.receive())["type"] != "http.disconnect":
        pass
