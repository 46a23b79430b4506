"""Audio from a request (base64 or an uploaded file, never a server-side path) -> 16 kHz array, within the limits.

Limits are checked before the expensive step: the byte size before decoding; the duration against what is left
of the request's audio budget (`max_audio_seconds` counts all of a request's recordings together), from the
file's header when it has one, and otherwise by decoding no further than that budget (`load_audio(max_seconds=)`).
"""

from __future__ import annotations

import base64
import binascii
import re

import numpy as np

from soundwave.audio import SAMPLE_RATE, load_audio
from soundwave.errors import AudioError, AudioTooLong
from soundwave.serving.errors import ApiError
from soundwave.serving.settings import ServerSettings

_DATA_URL = re.compile(r"^data:[\w/+.-]*;base64,", re.IGNORECASE)


def decode_base64(data: str, where: str, settings: ServerSettings) -> bytes:
    """The bytes of a base64 audio field (a `data:audio/wav;base64,` prefix is allowed).

    Raises:
        ApiError: 400 when it is not base64, 413 when the audio is over `max_upload_mb`.
    """
    data = _DATA_URL.sub("", data.strip(), count=1)
    if len(data) * 3 // 4 > settings.max_upload_bytes:
        raise _too_big(where, len(data) * 3 // 4, settings)
    try:
        raw = base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError) as err:
        raise ApiError(400, f"{where}: not valid base64 ({err})", code="invalid_base64", param=where) from err
    return raw


def _too_big(where: str, size: int, settings: ServerSettings) -> ApiError:
    return ApiError(
        413,
        f"{where}: {size / 1e6:.1f} MB of audio is over the limit of {settings.max_upload_mb:g} MB (--max-upload-mb)",
        code="audio_too_large",
        param=where,
    )


def _too_long(where: str, err: AudioTooLong, used: float, settings: ServerSettings) -> ApiError:
    length = f"{err.seconds:.1f} s of audio" if err.seconds is not None else "the audio"
    before = f" ({used:.1f} s in the request's earlier recordings)" if used else ""
    return ApiError(
        413,
        f"{where}: {length} is over the request's limit of {settings.max_audio_seconds:g} s of audio, all "
        f"recordings together{before} (--max-audio-seconds)",
        code="audio_too_long",
        param=where,
    )


def load_request_audio(raw: bytes, where: str, settings: ServerSettings, used: float = 0.0) -> np.ndarray:
    """Decode uploaded audio bytes to a (n,) float32 16 kHz waveform. Runs in a worker thread (CPU-bound).

    Args:
        raw: the audio file's bytes.
        where: what to name in errors, e.g. "messages[0].content[1].input_audio" or "file 'a.wav'".
        settings: the limits.
        used: seconds of audio the request's earlier recordings took from `settings.max_audio_seconds`.

    Raises:
        ApiError: 400 for empty / unreadable / out-of-range audio, 413 over the size or duration limit.
    """
    if not raw:
        raise ApiError(400, f"{where}: the audio is empty (0 bytes)", code="empty_audio", param=where)
    if len(raw) > settings.max_upload_bytes:
        raise _too_big(where, len(raw), settings)
    try:
        return load_audio(raw, max_seconds=settings.max_audio_seconds - used, name=where)
    except AudioTooLong as err:
        raise _too_long(where, err, used, settings) from err
    except AudioError as err:
        message = f"{err}; send a wav, flac, ogg or mp3 file"
        raise ApiError(400, message, code="invalid_audio", param=where) from err


def seconds(wave: np.ndarray) -> float:
    """Duration of a 16 kHz waveform."""
    return wave.shape[0] / SAMPLE_RATE
