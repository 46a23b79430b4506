"""OpenAI-style errors: every 4xx/5xx body is `{"error": {"message", "type", "code", "param"}}`.

`ApiError` is raised by the routes; `install_error_handlers` turns it, FastAPI's validation errors (malformed
JSON, wrong fields, wrong Content-Type) and Starlette's HTTP errors (404, 405, the body-size 413, the body-time
408) into that shape.
"""

from __future__ import annotations

import asyncio
import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

logger = logging.getLogger(__name__)

# the error `type` OpenAI uses for each status
_TYPES = {
    400: "invalid_request_error",
    401: "invalid_request_error",
    404: "not_found_error",
    405: "invalid_request_error",
    408: "timeout_error",
    413: "invalid_request_error",
    415: "invalid_request_error",
    429: "rate_limit_error",
    500: "server_error",
    503: "server_error",
    504: "timeout_error",
}


class ApiError(Exception):
    """An error answered to the client as `status` with an OpenAI-style body."""

    def __init__(
        self,
        status: int,
        message: str,
        code: str | None = None,
        param: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        # a message may quote the request (a field name, a file name): lone surrogates in it could not be sent
        message = message.encode("utf-8", "backslashreplace").decode("utf-8")
        super().__init__(message)
        self.status, self.message, self.code, self.param, self.headers = status, message, code, param, headers

    def body(self) -> dict:
        error_type = _TYPES.get(self.status, "invalid_request_error" if self.status < 500 else "server_error")
        return {"error": {"message": self.message, "type": error_type, "code": self.code, "param": self.param}}

    def response(self) -> JSONResponse:
        return JSONResponse(self.body(), status_code=self.status, headers=self.headers)


_TAGS = ("text", "input_audio")  # content-part `type` tags, which pydantic puts in error locations


def _location(loc: tuple) -> str:
    """('body', 'messages', 0, 'content', 'list[...]', 1, 'input_audio', 'input_audio', 'format') ->
    'messages[0].content[1].input_audio.format': pydantic's union-member and tag names dropped;
    ('body', 'timestamp_granularities[]', 0) -> 'timestamp_granularities[0]'."""
    out, previous = "", None
    for part in loc[1:] if loc and loc[0] in ("body", "query", "header") else loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif previous is None and part.endswith("[]"):
            out += part[:-2]  # a repeated form field's name (`timestamp_granularities[]`): its items follow
        elif "[" in part or "-" in part or part == "str" or (isinstance(previous, int) and part in _TAGS):
            pass  # a union member's or a tag's name, not a field
        else:
            out += f".{part}" if out else part
        previous = part
    return out or "body"


def _wanted(error: dict, errors: list[dict]) -> bool:
    """Drop a union's "should be a valid string" branch when its list branch failed too (the list was meant)."""
    loc = tuple(error.get("loc", ()))
    if error.get("type") != "string_type" or not loc or loc[-1] != "str":
        return True
    base = loc[:-1]
    return not any(tuple(other["loc"])[: len(base)] == base and tuple(other["loc"]) != loc for other in errors)


def validation_message(exc: RequestValidationError) -> tuple[str, str]:
    """A one-line message and code for FastAPI's validation errors."""
    errors = exc.errors()
    for error in errors:
        if error.get("type") == "json_invalid":
            reason = (error.get("ctx") or {}).get("error", "JSON decode error")
            return f"malformed JSON body: {reason} (at character {error['loc'][-1]})", "invalid_json"
    errors = [error for error in errors if _wanted(error, errors)]
    parts = []
    for error in errors[:5]:
        where = _location(tuple(error.get("loc", ())))
        if error.get("type") == "extra_forbidden":
            parts.append(f"{where}: unrecognized request argument")
        else:
            parts.append(f"{where}: {error.get('msg')}")
    more = f" (and {len(errors) - 5} more)" if len(errors) > 5 else ""
    return "invalid request: " + "; ".join(parts) + more, "invalid_request"


def body_too_large(max_body_bytes: int) -> ApiError:
    return ApiError(
        413,
        f"request body is over the limit of {max_body_bytes / 1e6:g} MB (set by --max-upload-mb; base64 included)",
        code="request_too_large",
    )


def body_too_slow(body_timeout: float) -> ApiError:
    return ApiError(
        408,
        f"the request body did not arrive within {body_timeout:g} s (--body-timeout)",
        code="request_timeout",
        headers={"Connection": "close"},  # the rest of the body may still be on its way: do not read it
    )


class _BodyTooLarge(HTTPException):
    def __init__(self) -> None:
        super().__init__(status_code=413, detail="request body too large")


class _BodyTooSlow(HTTPException):
    def __init__(self) -> None:
        super().__init__(status_code=408, detail="request body too slow")


class BodyLimit:
    """Answer 413 (OpenAI-style) for a request body over `max_body_bytes`, and 408 for one that takes longer than
    `body_timeout` seconds to arrive (uvicorn has no read timeout of its own: a client that sends half a body and
    waits would hold its buffer forever).

    A Content-Length over the limit is refused before anything is read; a body without one (chunked) is counted
    as it is read, and stopped at the limit. (FastAPI's own `max_body_size` answers in plain text, and replaces
    any other 413 when the Content-Length is over, so it cannot give OpenAI's error shape.) The time counts from
    the request's headers to the body's last byte; waiting for a disconnect after the body is not limited.
    """

    def __init__(self, app: ASGIApp, max_body_bytes: int, body_timeout: float | None = None) -> None:
        self.app, self.max_body_bytes, self.body_timeout = app, max_body_bytes, body_timeout

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        length = Headers(scope=scope).get("content-length", "")
        if length.isdigit() and int(length) > self.max_body_bytes:
            await body_too_large(self.max_body_bytes).response()(scope, receive, send)
            return
        total, started, complete = 0, False, False
        loop = asyncio.get_running_loop()
        deadline = None if self.body_timeout is None else loop.time() + self.body_timeout

        async def counted() -> Message:
            nonlocal total, complete
            if complete or deadline is None:
                message = await receive()
            else:
                try:
                    message = await asyncio.wait_for(receive(), max(deadline - loop.time(), 0.0))
                except TimeoutError:
                    raise _BodyTooSlow from None  # an HTTPException, as below
            if message["type"] == "http.request":
                total += len(message.get("body", b""))
                complete = not message.get("more_body", False)
                if total > self.max_body_bytes:
                    raise _BodyTooLarge  # an HTTPException: FastAPI re-raises it to our handler
            else:
                complete = True  # http.disconnect: no more body
            return message

        async def watched(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counted, watched)
        except (_BodyTooLarge, _BodyTooSlow) as err:
            if started:
                raise
            error = body_too_large(self.max_body_bytes) if err.status_code == 413 else body_too_slow(self.body_timeout)
            await error.response()(scope, receive, send)


def install_error_handlers(
    app: FastAPI, expected_content_types: dict[str, str], max_body_bytes: int, body_timeout: float | None = None
) -> None:
    """Answer every error in OpenAI's shape.

    Args:
        app: the application.
        expected_content_types: route path -> required media type; a request with another one that fails
            validation is answered 415 naming both.
        max_body_bytes: the request-body limit, named in the 413 message.
        body_timeout: the request-body time limit, named in the 408 message.
    """

    @app.exception_handler(ApiError)
    async def api_error(request: Request, exc: ApiError) -> JSONResponse:
        return exc.response()

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        expected = expected_content_types.get(request.url.path)
        got = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if expected and got != expected:
            message = f"Content-Type must be {expected} for {request.url.path}, got {got or 'none'}"
            return ApiError(415, message, code="unsupported_media_type").response()
        message, code = validation_message(exc)
        return ApiError(400, message, code=code).response()

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException) -> JSONResponse:
        if exc.status_code == 413:
            return body_too_large(max_body_bytes).response()
        if exc.status_code == 408 and body_timeout is not None:
            return body_too_slow(body_timeout).response()
        if exc.status_code == 404:
            message = f"no route {request.method} {request.url.path}; see /openapi.json"
            return ApiError(404, message, code="not_found").response()
        return ApiError(exc.status_code, str(exc.detail), headers=getattr(exc, "headers", None)).response()

    @app.exception_handler(Exception)
    async def crashed(request: Request, exc: Exception) -> JSONResponse:
        logger.exception("unhandled error on %s %s", request.method, request.url.path)
        return ApiError(500, f"internal error: {type(exc).__name__}: {exc}", code="internal_error").response()
