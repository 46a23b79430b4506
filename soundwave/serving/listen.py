"""`/v1/listen`: live captions over a WebSocket, then questions about what was said (`Pipeline.listen`).

    client -> server   binary messages: audio, 16-bit little-endian PCM mono at 16 kHz, unless a first text message
                       {"type": "start", "format": "pcm16" | "float32", "sample_rate": 16000, "api_key": "..."}
                       says otherwise; {"type": "ask", "prompt": "...", "options": {...}}; {"type": "finish"}
    server -> client   {"type": "partial" | "final", "text", "start", "end"}, {"type": "answer", "text",
                       "heard_from", "audio_seconds", "output_tokens"}, {"type": "finished", "seconds"},
                       {"type": "error", "message"}

Messages are handled in order, so an answer is about the audio sent before the question. A reader task takes the
client's messages into a short queue (when it is full the client is no longer read, and TCP holds it back); the model
work runs on a pool of `max_streams` threads (the model itself one call at a time, under the Pipeline's lock), so a
slow or vanished client holds up only itself, and a vanished client's question stops at the next decoding step. Bad
input is answered with an error event and the stream goes on; a missing API key or a full server closes it.
The protocol, with a client: docs/live.md.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import secrets
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np
from starlette.websockets import WebSocket

from soundwave.audio import SAMPLE_RATE
from soundwave.errors import ConfigError, SoundwaveError
from soundwave.serving.chat import check_text_size, prompt_limit
from soundwave.serving.errors import ApiError
from soundwave.serving.settings import ServerSettings

logger = logging.getLogger(__name__)

FORMATS = {"pcm16": (np.dtype("<i2"), 32_768.0), "float32": (np.dtype("<f4"), 1.0)}  # dtype, full scale
RATES = (8_000, 48_000)  # sample rates a client may send (resampled to 16 kHz here)
MAX_MESSAGE_SECONDS = 10.0  # most audio in one binary message (a live client sends 0.1-0.5 s)
QUEUE_MESSAGES = 32  # messages read ahead of the one being handled
START_FIELDS = {"type", "format", "sample_rate", "api_key"}
ASK_FIELDS = {"type", "prompt", "options"}
POLICY_VIOLATION, INTERNAL_ERROR, TRY_AGAIN_LATER = 1008, 1011, 1013  # WebSocket close codes


class Refused(Exception):
    """A message the stream answers with an error event; `close` (a WebSocket close code) also ends the stream."""

    def __init__(self, message: str, close: int | None = None) -> None:
        super().__init__(message)
        self.close = close


class LiveStreams:
    """The live streams of one server: at most `settings.max_streams`, their model work on a thread pool."""

    def __init__(self, pipeline, settings: ServerSettings) -> None:
        self.pipeline, self.settings = pipeline, settings
        self.active = 0
        self.limit = prompt_limit(pipeline, settings)
        self._executor: ThreadPoolExecutor | None = None

    def start(self) -> None:
        self._executor = ThreadPoolExecutor(max_workers=self.settings.max_streams, thread_name_prefix="soundwave-live")

    def stop(self) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=False, cancel_futures=True)
        self._executor = None

    async def run(self, function, *args, **kwargs):
        """`function(*args, **kwargs)` on the streams' thread pool."""
        if self._executor is None:
            raise RuntimeError("LiveStreams.start() was not called (run the app with its lifespan)")
        call = lambda: function(*args, **kwargs)  # noqa: E731
        return await asyncio.get_running_loop().run_in_executor(self._executor, call)

    async def serve(self, websocket: WebSocket) -> None:
        """One client, from the handshake to the close."""
        await websocket.accept()
        if self.active >= self.settings.max_streams:
            message = f"server busy: {self.settings.max_streams} live streams already (--max-streams); retry shortly"
            await _send(websocket, error(message))
            await websocket.close(TRY_AGAIN_LATER)
            return
        self.active += 1
        try:
            await Connection(self, websocket).run()
        finally:
            self.active -= 1


class Connection:
    """One client's stream: reads its messages, answers them in order."""

    def __init__(self, streams: LiveStreams, websocket: WebSocket) -> None:
        self.streams, self.websocket, self.settings = streams, websocket, streams.settings
        self.authorized = self.settings.api_key is None or key_matches(bearer(websocket), self.settings.api_key)
        self.live = None
        self.dtype, self.scale = FORMATS["pcm16"]
        self.resampler = None  # soxr stream, when the client sends another rate
        self.rate = SAMPLE_RATE
        self.gone = False  # the client disconnected: stop at once
        self.queue: asyncio.Queue = asyncio.Queue(maxsize=QUEUE_MESSAGES)

    async def run(self) -> None:
        reader = asyncio.create_task(self._read())
        close = 1000
        try:
            while True:
                kind, data = await self.queue.get()
                if kind == "gone" or self.gone:
                    return
                try:
                    await (self._audio(data) if kind == "bytes" else self._text(data))
                except Refused as refused:
                    await self._send(error(str(refused)))
                    if refused.close is not None:
                        close = refused.close
                        return
                if self.gone:
                    return
        finally:
            reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await reader
            if not self.gone:
                with contextlib.suppress(Exception):
                    await self.websocket.close(close)

    async def _read(self) -> None:
        try:
            while True:
                message = await self.websocket.receive()
                if message["type"] == "websocket.disconnect":
                    break
                if message.get("bytes") is not None:
                    await self.queue.put(("bytes", message["bytes"]))
                else:
                    await self.queue.put(("text", message.get("text") or ""))
        except Exception as err:  # a broken connection is a gone client (cancelled: the stream ended it)
            logger.debug("live stream read ended: %s", err)
        self.gone = True
        with contextlib.suppress(asyncio.QueueFull):
            self.queue.put_nowait(("gone", None))

    async def _send(self, payload: dict) -> None:
        if not self.gone and not await _send(self.websocket, payload):
            self.gone = True

    async def _live(self):
        if self.live is None:
            listen = getattr(self.streams.pipeline, "listen", None)
            if listen is None:
                raise Refused("this server's model cannot stream (no Pipeline.listen)", close=INTERNAL_ERROR)
            try:
                self.live = listen()
            except SoundwaveError as err:
                raise Refused(f"this server's model cannot stream: {err}", close=INTERNAL_ERROR) from err
        return self.live

    # ---- audio ----------------------------------------------------------------------------------------------
    async def _audio(self, data: bytes) -> None:
        self._check_key()
        live = await self._live()
        if live.finished:
            raise Refused("the stream is finished (after 'finish' or at --max-stream-seconds): no more audio")
        width = self.dtype.itemsize
        if len(data) % width:
            name = "pcm16" if width == 2 else "float32"
            raise Refused(f"audio message of {len(data)} bytes: {name} audio comes in whole {width}-byte samples")
        if len(data) > MAX_MESSAGE_SECONDS * self.rate * width:
            raise Refused(f"audio message of {len(data) / width / self.rate:.1f} s: send at most "
                          f"{MAX_MESSAGE_SECONDS:g} s at a time")  # fmt: skip
        samples = np.frombuffer(data, dtype=self.dtype).astype(np.float32) / self.scale
        if self.resampler is not None:
            samples = self.resampler.resample_chunk(samples)
        room = round(self.settings.max_stream_seconds * SAMPLE_RATE) - round(live.seconds * SAMPLE_RATE)
        await self._feed(samples[:room])
        if samples.shape[0] > room:
            await self._send(error(f"the stream reached its limit of {self.settings.max_stream_seconds:g} s of "
                                   "audio (--max-stream-seconds): finished; questions are still answered"))  # fmt: skip
            await self._finish({"type": "finish"})

    async def _feed(self, samples: np.ndarray) -> None:
        try:
            events = await self.streams.run(self.live.feed, samples)
        except SoundwaveError as err:
            raise Refused(str(err)) from err
        for event in events:
            await self._send(event.to_dict())

    # ---- text -----------------------------------------------------------------------------------------------
    async def _text(self, text: str) -> None:
        try:
            message = json.loads(text)
        except ValueError:
            message = None
        if not isinstance(message, dict) or not isinstance(message.get("type"), str):
            raise Refused(
                'text messages are JSON objects with a "type": start, ask or finish (audio goes in binary '
                f"messages); got {text[:80]!r}",
                close=None if self.authorized else POLICY_VIOLATION,
            )
        handlers = {"start": self._start, "ask": self._ask, "finish": self._finish}
        handler = handlers.get(message["type"])
        if handler is None:
            raise Refused(f"unknown message type {message['type']!r}: expected start, ask or finish")
        await handler(message)

    async def _start(self, message: dict) -> None:
        if self.settings.api_key is not None and not self.authorized:
            self.authorized = key_matches(message.get("api_key"), self.settings.api_key)
            self._check_key()
        if self.live is not None:
            raise Refused("start must be the first message, before any audio")
        unknown = set(message) - START_FIELDS
        if unknown:
            raise Refused(f"start: unknown field(s) {sorted(unknown)}; known: {sorted(START_FIELDS)}")
        name = message.get("format", "pcm16")
        if name not in FORMATS:
            raise Refused(f"start: format must be one of {', '.join(FORMATS)}, got {name!r}")
        rate = message.get("sample_rate", SAMPLE_RATE)
        if not isinstance(rate, int) or isinstance(rate, bool) or not RATES[0] <= rate <= RATES[1]:
            raise Refused(f"start: sample_rate must be a whole number of Hz in [{RATES[0]}, {RATES[1]}], got {rate!r}")
        self.dtype, self.scale = FORMATS[name]
        self.rate = rate
        if rate != SAMPLE_RATE:
            import soxr

            self.resampler = soxr.ResampleStream(rate, SAMPLE_RATE, 1, dtype="float32", quality="HQ")
        await self._live()

    async def _ask(self, message: dict) -> None:
        self._check_key()
        unknown = set(message) - ASK_FIELDS
        prompt, options = message.get("prompt"), message.get("options", {})
        if unknown:
            raise Refused(f"ask: unknown field(s) {sorted(unknown)}; known: {sorted(ASK_FIELDS)}")
        if not isinstance(prompt, str) or not prompt.strip():
            raise Refused('ask: "prompt" must be a non-empty string')
        if not isinstance(options, dict):
            raise Refused('ask: "options" must be an object of decoding options, e.g. {"max_new_tokens": 64}')
        try:
            self.streams.pipeline.generation.with_overrides(**options)
            check_text_size([prompt], self.streams.pipeline.tokenizer, self.streams.limit, "prompt")
        except (ConfigError, TypeError, ValueError, ApiError) as err:
            raise Refused(f"ask: {err}") from err
        live = await self._live()
        deadline = time.monotonic() + self.settings.timeout
        given_up = lambda: self.gone or time.monotonic() > deadline  # noqa: E731
        try:
            answer = await self.streams.run(live.ask, prompt, should_stop=given_up, **options)
        except SoundwaveError as err:
            raise Refused(f"ask: {err}") from err
        if time.monotonic() > deadline:
            raise Refused(f"ask: the answer took longer than {self.settings.timeout:g} s (--timeout)")
        await self._send(
            {
                "type": "answer",
                "text": answer.text,
                "heard_from": round(answer.heard_from, 3),
                "audio_seconds": round(answer.audio_seconds, 3),
                "output_tokens": answer.output_tokens,
            }
        )

    async def _finish(self, message: dict) -> None:
        self._check_key()
        if set(message) != {"type"}:
            raise Refused('finish: no fields but "type"')
        live = await self._live()
        if self.resampler is not None and not live.finished:  # what the resampler still holds
            await self._feed(self.resampler.resample_chunk(np.zeros(0, np.float32), last=True))
        for event in await self.streams.run(live.finish):
            await self._send(event.to_dict())
        await self._send({"type": "finished", "seconds": round(live.seconds, 3)})

    def _check_key(self) -> None:
        if not self.authorized:
            raise Refused(
                "missing or invalid API key: send the header 'Authorization: Bearer <key>' or a first message "
                '{"type": "start", "api_key": "<key>"}',
                close=POLICY_VIOLATION,
            )


def error(message: str) -> dict:
    return {"type": "error", "message": message}


def bearer(websocket: WebSocket) -> str | None:
    """The key of an `Authorization: Bearer <key>` header, if any."""
    scheme, _, key = websocket.headers.get("authorization", "").partition(" ")
    return key.strip() if scheme.lower() == "bearer" else None


def key_matches(given, key: str) -> bool:
    return isinstance(given, str) and secrets.compare_digest(given.encode(), key.encode())


async def _send(websocket: WebSocket, payload: dict) -> bool:
    """Send one JSON event; False when the client is gone."""
    try:
        await websocket.send_text(json.dumps(payload, ensure_ascii=False))
        return True
    except Exception as err:  # closed, reset: the client left
        logger.debug("live stream send failed: %s", err)
        return False
