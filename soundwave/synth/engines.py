"""Text -> 16 kHz mono speech with one call, whatever the engine: `render` gives the waveform, `synthesize`
writes it as a wav file.

espeak-ng and flite run as one subprocess per sentence (a few ms each); festival and the neural engines
(piper, hibari) are loaded once per process and kept (see `festival.py`, `neural.py`). Speed and pitch
changes go through sox after synthesis, the same way for every engine.
"""

from __future__ import annotations

import io
import os
import subprocess
from pathlib import Path

import numpy as np

from soundwave.atomic import atomic_path
from soundwave.audio import SAMPLE_RATE, resample, to_mono
from soundwave.synth.augment import change_speed_pitch
from soundwave.synth.voices import SynthesisError, Voice, missing_reason

MAX_SECONDS = 30.0  # Whisper's window: longer utterances are refused rather than truncated later
SILENCE_PEAK = 1e-3  # a waveform whose peak stays below this is taken as "the engine said nothing"
SUBPROCESS_TIMEOUT_S = 60


def _decode_wav(data: bytes, what: str) -> tuple[np.ndarray, int]:
    import soundfile as sf

    try:
        wave, rate = sf.read(io.BytesIO(data), dtype="float32", always_2d=False)
    except Exception as err:  # libsndfile raises several types for bad data
        raise SynthesisError(f"{what}: the engine's output is not a readable wav ({err})") from err
    return to_mono(wave), int(rate)


def _run(command: list[str], what: str) -> bytes:
    try:
        proc = subprocess.run(command, capture_output=True, timeout=SUBPROCESS_TIMEOUT_S, check=False)
    except subprocess.TimeoutExpired as err:
        raise SynthesisError(f"{what}: {command[0]} took over {SUBPROCESS_TIMEOUT_S} s") from err
    if proc.returncode != 0:
        reason = proc.stderr.decode(errors="replace").strip().splitlines()[-1:] or ["no message"]
        raise SynthesisError(f"{what}: {command[0]} exited with {proc.returncode} ({reason[0]})")
    return proc.stdout


def _espeak(voice: Voice, text: str) -> tuple[np.ndarray, int]:
    return _decode_wav(_run(["espeak-ng", "-v", voice.name, "--stdout", text], voice.id), voice.id)


def _flite(voice: Voice, text: str) -> tuple[np.ndarray, int]:
    return _decode_wav(_run(["flite", "-voice", voice.name, "-t", text, "-o", "/dev/stdout"], voice.id), voice.id)


def _festival(voice: Voice, text: str) -> tuple[np.ndarray, int]:
    from soundwave.synth.festival import festival_say

    return festival_say(voice.name, text)


def _piper(voice: Voice, text: str) -> tuple[np.ndarray, int]:
    from soundwave.synth.neural import piper_say

    return piper_say(voice.name, text)


def _hibari(voice: Voice, text: str) -> tuple[np.ndarray, int]:
    from soundwave.synth.neural import hibari_say

    return hibari_say(voice.name, text)


_RENDERERS = {"espeak": _espeak, "flite": _flite, "festival": _festival, "piper": _piper, "hibari": _hibari}


def render(voice: Voice, text: str, speed: float = 1.0, pitch: float = 0.0) -> np.ndarray:
    """Speak `text` with `voice`.

    Args:
        voice: the voice (see `voices.get_voice`).
        text: one speakable sentence (see `text.speakable`).
        speed: tempo factor (1.0 unchanged, 1.1 is 10 % faster), pitch kept.
        pitch: pitch shift in semitones, tempo kept.

    Returns:
        (n,) float32 waveform at 16 kHz.

    Raises:
        SynthesisError: the engine is missing, fails, or says nothing or too much for this sentence.
    """
    missing = missing_reason(voice)
    if missing:
        raise SynthesisError(f"{voice.id}: {missing}")
    if not text.strip():
        raise SynthesisError(f"{voice.id}: nothing to say (empty text)")
    wave, rate = _RENDERERS[voice.engine](voice, text)
    if speed != 1.0 or pitch != 0.0:
        wave = change_speed_pitch(wave, rate, speed=speed, pitch=pitch)
    wave = resample(np.asarray(wave, dtype=np.float32), rate, SAMPLE_RATE)
    if wave.size == 0 or not np.isfinite(wave).all() or np.abs(wave).max() < SILENCE_PEAK:
        raise SynthesisError(f"{voice.id}: the engine produced silence for {text[:60]!r}")
    if wave.size / SAMPLE_RATE > MAX_SECONDS:
        raise SynthesisError(f"{voice.id}: {wave.size / SAMPLE_RATE:.1f} s is over the {MAX_SECONDS:g} s limit")
    return wave


def write_wav(path: str | os.PathLike, wave: np.ndarray) -> None:
    """Atomically write a (n,) 16 kHz float waveform as 16-bit PCM wav (clipped to [-1, 1])."""
    import soundfile as sf

    with atomic_path(path) as tmp:
        sf.write(tmp, np.clip(wave, -1.0, 1.0), SAMPLE_RATE, subtype="PCM_16", format="WAV")


def synthesize(voice: Voice, text: str, out_wav: str | os.PathLike, speed: float = 1.0, pitch: float = 0.0) -> float:
    """Speak `text` with `voice` into `out_wav` (16 kHz mono 16-bit wav, written atomically).

    Returns:
        The duration in seconds.

    Raises:
        SynthesisError: as `render`; no file is written then.
    """
    wave = render(voice, text, speed=speed, pitch=pitch)
    write_wav(Path(out_wav), wave)
    return wave.size / SAMPLE_RATE
