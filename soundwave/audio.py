"""Audio in: any common file format, bytes or array, at any rate and channel count -> 16 kHz mono float32.

Decoding goes through soundfile (libsndfile: wav, flac, ogg, mp3 and more); files it cannot read fall back to
an `ffmpeg` subprocess when one is installed. Resampling uses soxr.
"""

from __future__ import annotations

import io
import os
import shutil
import subprocess
from pathlib import Path

import numpy as np

from soundwave.errors import AudioError

SAMPLE_RATE = 16_000  # Whisper and every encoder we support run at 16 kHz

AudioInput = str | os.PathLike | bytes | np.ndarray


def resample(waveform: np.ndarray, orig_rate: int, target_rate: int = SAMPLE_RATE) -> np.ndarray:
    """Resample a mono float waveform (n,) with soxr (high quality)."""
    if orig_rate == target_rate:
        return waveform.astype(np.float32, copy=False)
    import soxr

    return soxr.resample(waveform, orig_rate, target_rate, quality="HQ").astype(np.float32)


def to_mono(waveform: np.ndarray) -> np.ndarray:
    """Downmix (n,) or (n, channels) to (n,) by averaging channels."""
    if waveform.ndim == 1:
        return waveform
    if waveform.ndim == 2:
        return waveform.mean(axis=1)  # (n, C) -> (n,)
    raise AudioError(f"audio array must be 1-D (samples) or 2-D (samples, channels), got shape {waveform.shape}")


def _decode_with_ffmpeg(data: bytes, name: str) -> tuple[np.ndarray, int]:
    ffmpeg = shutil.which("ffmpeg")
    if ffmpeg is None:
        raise AudioError(f"{name}: not a format soundfile can read, and ffmpeg is not installed to try")
    proc = subprocess.run(
        [
            ffmpeg,
            "-nostdin",
            "-v",
            "error",
            "-i",
            "pipe:0",
            "-f",
            "f32le",
            "-ac",
            "1",
            "-ar",
            str(SAMPLE_RATE),
            "-",
        ],
        input=data,
        capture_output=True,
        check=False,
    )
    if proc.returncode != 0:
        reason = proc.stderr.decode(errors="replace").strip().splitlines()[-1:] or ["unknown error"]
        raise AudioError(f"{name}: cannot decode audio ({reason[0]})")
    return np.frombuffer(proc.stdout, dtype=np.float32).copy(), SAMPLE_RATE


def _decode(data: bytes, name: str) -> tuple[np.ndarray, int]:
    import soundfile as sf

    if not data:
        raise AudioError(f"{name}: the file is empty")
    try:
        waveform, rate = sf.read(io.BytesIO(data), dtype="float32", always_2d=False)
    except Exception as err:  # libsndfile raises LibsndfileError / RuntimeError / TypeError by format
        try:
            return _decode_with_ffmpeg(data, name)
        except AudioError as ff_err:
            raise AudioError(f"{name}: not readable as audio ({err}); {ff_err}") from err
    return waveform, int(rate)


def load_audio(
    source: AudioInput,
    sampling_rate: int | None = None,
    target_rate: int = SAMPLE_RATE,
    max_seconds: float | None = None,
) -> np.ndarray:
    """Load audio as a mono float32 waveform at `target_rate`.

    Args:
        source: a file path, the bytes of an audio file, or an array (n,) / (n, channels).
        sampling_rate: the rate of `source` when it is an array (required then; ignored otherwise).
        target_rate: the rate to resample to.
        max_seconds: reject audio longer than this (None: no limit).

    Returns:
        (n,) float32 waveform at `target_rate`.

    Raises:
        AudioError: naming the file and the reason (missing, empty, not audio, non-finite, too long).
    """
    if isinstance(source, np.ndarray):
        if sampling_rate is None:
            raise AudioError("an audio array needs its sampling_rate")
        name, waveform, rate = "<array>", np.asarray(source, dtype=np.float32), int(sampling_rate)
    elif isinstance(source, bytes | bytearray):
        name = "<bytes>"
        waveform, rate = _decode(bytes(source), name)
    else:
        path = Path(source)
        name = str(path)
        if not path.is_file():
            raise AudioError(f"{name}: no such audio file")
        waveform, rate = _decode(path.read_bytes(), name)
    waveform = to_mono(np.asarray(waveform, dtype=np.float32))
    if waveform.size == 0:
        raise AudioError(f"{name}: the audio has no samples")
    if not np.isfinite(waveform).all():
        raise AudioError(f"{name}: the audio contains NaN or infinite samples")
    if max_seconds is not None and waveform.size / rate > max_seconds:
        raise AudioError(f"{name}: {waveform.size / rate:.1f} s of audio is over the limit of {max_seconds:g} s")
    return resample(waveform, rate, target_rate)
