"""`ServerSettings`: the server's limits and knobs in one dataclass; `soundwave serve` derives its flags from it."""

from __future__ import annotations

import os
from dataclasses import dataclass, field

API_KEY_ENV = "SOUNDWAVE_API_KEY"


@dataclass(frozen=True)
class ServerSettings:
    """Limits and batching of one server. Every field becomes a `soundwave serve` flag (`max_batch` -> `--max-batch`).

    Attributes:
        model_name: the id reported by `/v1/models` and in responses (requests may name any model).
        api_key: when set, `/v1/*` requires `Authorization: Bearer <api_key>`.
        max_batch: most requests answered together in one `generate_batch` call.
        batch_wait_ms: how long the worker waits for more requests to join a batch.
        queue_size: most requests waiting; one more is answered 429 at once.
        max_upload_mb: largest request body / audio file, in MB (10**6 bytes).
        max_audio_seconds: most audio in one request, all its recordings together (history included); no
            recording is decoded past what is left of it.
        max_prompt_tokens: most text tokens in one request's messages, all together (the model's context bounds
            them too); counted before the request is queued, and text far over it is refused without tokenizing.
        timeout: seconds a request may wait and run before it is answered 504; its generation then stops at the
            next decoding step, as it does when the client disconnects.
        body_timeout: seconds a client has to send the whole request body; a slower one is answered 408 and its
            connection closed (uvicorn has no such timeout of its own).
        max_streams: most live streams (`/v1/listen` WebSockets) at once; one more is told the server is busy.
        max_stream_seconds: most seconds of audio in one live stream; past it the stream is finished (its
            captions settled, questions still answered) and more audio is refused.
    """

    model_name: str = field(default="soundwave", metadata={"help": "model id reported by /v1/models"})
    api_key: str | None = field(
        default=None, metadata={"help": f"require 'Authorization: Bearer KEY' on /v1 (default: ${API_KEY_ENV})"}
    )
    max_batch: int = field(default=8, metadata={"help": "most requests answered in one batch"})
    batch_wait_ms: float = field(default=5.0, metadata={"help": "ms to wait for more requests to join a batch"})
    queue_size: int = field(default=64, metadata={"help": "most waiting requests; more get 429"})
    max_upload_mb: float = field(default=25.0, metadata={"help": "largest request body / audio file in MB"})
    max_audio_seconds: float = field(
        default=600.0, metadata={"help": "most seconds of audio in one request, all its recordings together"}
    )
    max_prompt_tokens: int = field(
        default=8_192, metadata={"help": "most text tokens in one request's messages, all together"}
    )
    timeout: float = field(default=120.0, metadata={"help": "seconds before a request is answered 504"})
    body_timeout: float = field(default=60.0, metadata={"help": "seconds to send a request body; slower gets 408"})
    max_streams: int = field(default=4, metadata={"help": "most live streams (/v1/listen) at once"})
    max_stream_seconds: float = field(
        default=3600.0, metadata={"help": "most seconds of audio in one live stream (/v1/listen)"}
    )

    def __post_init__(self) -> None:
        for name in (
            "max_batch", "queue_size", "max_upload_mb", "max_audio_seconds", "max_prompt_tokens", "timeout",
            "body_timeout", "max_streams", "max_stream_seconds",
        ):  # fmt: skip
            if getattr(self, name) <= 0:
                raise ValueError(f"ServerSettings.{name} must be > 0, got {getattr(self, name)}")
        if self.batch_wait_ms < 0:
            raise ValueError(f"ServerSettings.batch_wait_ms must be >= 0, got {self.batch_wait_ms}")

    @property
    def max_upload_bytes(self) -> int:
        return int(self.max_upload_mb * 1_000_000)

    @staticmethod
    def api_key_from_env() -> str | None:
        """The key in `$SOUNDWAVE_API_KEY`, or None when unset or empty."""
        return os.environ.get(API_KEY_ENV) or None
