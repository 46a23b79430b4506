"""Audio in: any common file format, bytes or array, at any rate and channel count -> 16 kHz mono float32.

Decoding goes through soundfile (libsndfile: wav, flac, ogg, mp3 and more); files it cannot read fall back to
an `ffmpeg` subprocess when one is installed. Resampling uses soxr. A file is decoded block by block, each block
downmixed and resampled as it comes, so memory follows the mono output, never the file's channels x rate (590 s
of 8-channel 192 kHz silence is a 1 MB FLAC and 3.6 GB of float32). With `max_seconds`, nothing is decoded past
the limit: the header's length is checked first, and decoding stops one sample past the limit (soundfile reads at
most that many frames, ffmpeg is told `-t`), so a tiny file that claims or holds hours of audio costs nothing.
"""

from __future__ import annotations

import io
import logging
import os
import re
import shutil
import stat
import subprocess
from pathlib import Path

import numpy as np

from soundwave.errors import AudioError, AudioTooLong

logger = logging.getLogger(__name__)

SAMPLE_RATE = 16_000  # Whisper and every encoder we support run at 16 kHz
# Decoded samples lie within [-1, 1] (float files may overshoot a little). Beyond 60 dB over full scale a file is
# not a recording, and from about 1e17 the log-mel overflows to NaN: such audio is refused, not clipped.
MAX_AMPLITUDE = 1_000.0
TRUNCATION_TOLERANCE = 0.01  # decoded audio this much (fraction) shorter than its header says is warned about
UNKNOWN_FRAMES = 2**62  # libsndfile reports SF_COUNT_MAX frames (2**63 - 1) when a header does not give the length
BLOCK_FRAMES = 2**16  # frames decoded at a time (a few MB even at 8 channels)

AudioInput = str | os.PathLike | bytes | np.ndarray

_BUFFER_NAME = re.compile(r"(Error opening )?<_io\.BytesIO object at 0x[0-9a-fA-F]+>:? ?")  # libsndfile's name
_FILE_KINDS = (
    (stat.S_ISDIR, "a directory"),
    (stat.S_ISFIFO, "a named pipe (FIFO)"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
)


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


def _too_long(name: str, seconds: float | None, limit: float) -> AudioTooLong:
    length = f"{seconds:.1f} s of audio" if seconds is not None else "the audio"
    return AudioTooLong(f"{name}: {length} is over the limit of {limit:g} s", seconds, limit)


def _read_file(path: Path) -> bytes:
    """The bytes of an audio file; anything but a regular file (a directory, FIFO, device) is named as what it is."""
    name = str(path)
    try:
        mode = path.stat().st_mode  # follows links: a link to /dev/zero is a character device
    except FileNotFoundError:
        broken = f" (a broken link to {os.readlink(path)})" if path.is_symlink() else ""
        raise AudioError(f"{name}: no such audio file{broken}") from None
    except OSError as err:
        raise AudioError(f"{name}: cannot read it ({err.strerror})") from err
    if not stat.S_ISREG(mode):
        kind = next((kind for test, kind in _FILE_KINDS if test(mode)), "not a regular file")
        link = f" (a link to {path.resolve()})" if path.is_symlink() else ""
        raise AudioError(f"{name}{link}: is {kind}, not an audio file")
    try:
        return path.read_bytes()
    except OSError as err:
        raise AudioError(f"{name}: cannot read it ({err.strerror})") from err


def _decode_with_ffmpeg(data: bytes, name: str, max_seconds: float | None) -> tuple[np.ndarray, int]:
    """Decode with ffmpeg to 16 kHz mono; with `max_seconds`, ffmpeg stops one second past it (`-t`)."""
    ffmpeg = shutil.which("ffmpeg")
    if ffmpeg is None:
        raise AudioError("not a format soundfile can read, and ffmpeg is not installed to try")
    limit = [] if max_seconds is None else ["-t", f"{max_seconds + 1:.3f}"]
    command = [ffmpeg, "-nostdin", "-v", "error", "-i", "pipe:0", "-f", "f32le", "-ac", "1"]
    command += ["-ar", str(SAMPLE_RATE), *limit, "-"]
    proc = subprocess.run(command, input=data, capture_output=True, check=False)
    if proc.returncode != 0:
        reason = proc.stderr.decode(errors="replace").strip().splitlines()[-1:] or ["unknown error"]
        raise AudioError(f"ffmpeg: {reason[0]}")
    waveform = np.frombuffer(proc.stdout, dtype=np.float32).copy()
    if max_seconds is not None and waveform.size > max_seconds * SAMPLE_RATE:
        raise _too_long(name, None, max_seconds)
    return waveform, SAMPLE_RATE


def _decode(data: bytes, name: str, max_seconds: float | None, target_rate: int) -> tuple[np.ndarray, int]:
    """(mono samples, rate) of an audio file's bytes, at most `max_seconds` of them decoded; at `target_rate`
    when soundfile reads the format (ffmpeg gives `SAMPLE_RATE`)."""
    import soundfile as sf

    if not data:
        raise AudioError(f"{name}: the file is empty")
    header_seconds = None
    try:
        with sf.SoundFile(io.BytesIO(data)) as file:
            rate, frames = file.samplerate, file.frames
            header_seconds = frames / rate if 0 < frames < UNKNOWN_FRAMES else None
            if max_seconds is not None and header_seconds is not None and header_seconds > max_seconds:
                raise _too_long(name, header_seconds, max_seconds)  # from the header: nothing decoded
            cap = None if max_seconds is None else int(max_seconds * rate) + 1  # one past the limit tells "over"
            waveform, read = _read_mono(file, cap, target_rate)
        if max_seconds is not None and read > max_seconds * rate:
            raise _too_long(name, None, max_seconds)
        _warn_if_short(name, read / rate, header_seconds)
        return waveform, target_rate
    except AudioTooLong:
        raise
    except Exception as err:  # libsndfile raises LibsndfileError / RuntimeError / TypeError by format
        reason = _BUFFER_NAME.sub("", str(err)).strip() or type(err).__name__
        try:
            waveform, rate = _decode_with_ffmpeg(data, name, max_seconds)
        except AudioError as ff_err:
            if isinstance(ff_err, AudioTooLong):
                raise
            raise AudioError(f"{name}: not readable as audio (soundfile: {reason}; {ff_err})") from err
    _warn_if_short(name, waveform.shape[0] / rate, header_seconds)
    return waveform, rate


def _read_mono(file, cap: int | None, target_rate: int) -> tuple[np.ndarray, int]:
    """(n,) mono float32 at `target_rate` of an open soundfile, and the frames read: at most `cap` (None: all), a
    block at a time, each downmixed and resampled before the next is read (soxr's stream gives the same samples
    as resampling the whole at once)."""
    import soxr

    stream = None
    if file.samplerate != target_rate:
        stream = soxr.ResampleStream(file.samplerate, target_rate, 1, dtype="float32", quality="HQ")
    pieces, read = [], 0
    while cap is None or read < cap:
        count = BLOCK_FRAMES if cap is None else min(BLOCK_FRAMES, cap - read)
        block = file.read(frames=count, dtype="float32", always_2d=True)  # (count, C)
        if not len(block):
            break
        read += len(block)
        mono = block.mean(axis=1)  # (count, C) -> (count,)
        pieces.append(mono if stream is None else stream.resample_chunk(mono))
    if stream is not None:
        pieces.append(stream.resample_chunk(np.zeros(0, np.float32), last=True))
    return (np.concatenate(pieces) if pieces else np.zeros(0, np.float32)), read


def _warn_if_short(name: str, seconds: float, header_seconds: float | None) -> None:
    if header_seconds is not None and seconds < header_seconds * (1 - TRUNCATION_TOLERANCE):
        logger.warning(
            "%s: decoded %.2f s of audio, but its header says %.2f s: the file looks truncated", name, seconds,
            header_seconds,
        )  # fmt: skip


def check_samples(waveform: np.ndarray, name: str) -> None:
    """Refuse audio with no samples, non-finite samples or samples over `MAX_AMPLITUDE` (see there)."""
    if waveform.size == 0:
        raise AudioError(f"{name}: the audio has no samples")
    peak = float(np.abs(waveform).max())
    if not np.isfinite(peak):
        raise AudioError(f"{name}: the audio contains NaN or infinite samples")
    if peak > MAX_AMPLITUDE:
        raise AudioError(
            f"{name}: samples reach {peak:.3g}; audio must lie within [-1, 1] (at most ±{MAX_AMPLITUDE:g} is "
            "accepted): rescale it"
        )


def load_audio(
    source: AudioInput,
    sampling_rate: int | None = None,
    target_rate: int = SAMPLE_RATE,
    max_seconds: float | None = None,
    name: str | None = None,
) -> np.ndarray:
    """Load audio as a mono float32 waveform at `target_rate`.

    Args:
        source: a file path, the bytes of an audio file, or an array (n,) / (n, channels).
        sampling_rate: the rate of `source` when it is an array (required then; ignored otherwise).
        target_rate: the rate to resample to.
        max_seconds: reject audio longer than this, without decoding past it (None: no limit).
        name: what errors call the audio (default: the path, "<bytes>" or "<array>"), e.g. an upload's field.

    Returns:
        (n,) float32 waveform at `target_rate`.

    Raises:
        AudioError: naming the file and the reason (missing, not a regular file, empty, not audio, non-finite or
            out-of-range samples); `AudioTooLong` over `max_seconds`.
    """
    if isinstance(source, np.ndarray):
        if sampling_rate is None:
            raise AudioError("an audio array needs its sampling_rate")
        name, waveform, rate = name or "<array>", np.asarray(source, dtype=np.float32), int(sampling_rate)
        if max_seconds is not None and waveform.shape[0] / rate > max_seconds:
            raise _too_long(name, waveform.shape[0] / rate, max_seconds)
    elif isinstance(source, bytes | bytearray):
        name = name or "<bytes>"
        waveform, rate = _decode(bytes(source), name, max_seconds, target_rate)
    else:
        path = Path(source)
        name = name or str(path)
        waveform, rate = _decode(_read_file(path), name, max_seconds, target_rate)
    waveform = to_mono(np.asarray(waveform, dtype=np.float32))
    check_samples(waveform, name)
    return resample(waveform, rate, target_rate)
