"""Audio from a request (base64 or an uploaded file, never a server-side path) -> 16 kHz array, within the limits.

Limits are checked before the expensive step: the byte size before decoding, the duration from the file's
header (when soundfile can read it) before decoding the samples, and the decoded duration after.
"""

from __future__ import annotations

import base64
import binascii
import io
import re

import numpy as np

from soundwave.audio import SAMPLE_RATE, load_audio
from soundwave.errors import AudioError
from soundwave.serving.errors import ApiError
from soundwave.serving.settings import ServerSettings

_DATA_URL = re.compile(r"^data:[\w/+.-]*;base64,", re.IGNORECASE)
_NOISE = re.compile(r"<bytes>: |Error opening <_io\.BytesIO object at 0x[0-9a-f]+>: ")  # load_audio's in-memory names


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


def _too_long(where: str, seconds: float, settings: ServerSettings) -> ApiError:
    return ApiError(
        413,
        f"{where}: {seconds:.1f} s of audio is over the limit of {settings.max_audio_seconds:g} s "
        "(--max-audio-seconds)",
        code="audio_too_long",
        param=where,
    )


def _header_seconds(raw: bytes) -> float | None:
    """Duration from the file header, without decoding; None when soundfile cannot tell."""
    import soundfile as sf

    try:
        info = sf.info(io.BytesIO(raw))
    except Exception:  # not a format soundfile reads: load_audio decides (ffmpeg or a clear error)
        return None
    return info.frames / info.samplerate if info.samplerate and info.frames > 0 else None


def load_request_audio(raw: bytes, where: str, settings: ServerSettings) -> np.ndarray:
    """Decode uploaded audio bytes to a (n,) float32 16 kHz waveform. Runs in a worker thread (CPU-bound).

    Args:
        raw: the audio file's bytes.
        where: what to name in errors, e.g. "messages[0].content[1].input_audio" or "file 'a.wav'".
        settings: the limits.

    Raises:
        ApiError: 400 for empty / unreadable audio, 413 over the size or duration limit.
    """
    if not raw:
        raise ApiError(400, f"{where}: the audio is empty (0 bytes)", code="empty_audio", param=where)
    if len(raw) > settings.max_upload_bytes:
        raise _too_big(where, len(raw), settings)
    seconds = _header_seconds(raw)
    if seconds is not None and seconds > settings.max_audio_seconds:
        raise _too_long(where, seconds, settings)
    try:
        wave = load_audio(raw)
    except AudioError as err:
        reason = _NOISE.sub("", str(err))
        message = f"{where}: {reason}; send a wav, flac, ogg or mp3 file"
        raise ApiError(400, message, code="invalid_audio", param=where) from err
    if wave.shape[0] / SAMPLE_RATE > settings.max_audio_seconds:
        raise _too_long(where, wave.shape[0] / SAMPLE_RATE, settings)
    return wave
