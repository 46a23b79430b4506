"""Audio augmentation for the training split: tempo and pitch through sox, background noise and gain with
numpy. Every function is deterministic: randomness comes in as an explicit `numpy.random.Generator`.
"""

from __future__ import annotations

import shutil
import subprocess

import numpy as np

from soundwave.synth.voices import INSTALL_HINTS, SynthesisError


def change_speed_pitch(wave: np.ndarray, rate: int, speed: float = 1.0, pitch: float = 0.0) -> np.ndarray:
    """Change tempo (pitch kept) and pitch (tempo kept) with sox's `tempo -s` and `pitch` effects.

    Args:
        wave: (n,) float waveform.
        rate: its sampling rate.
        speed: tempo factor, e.g. 1.1 for 10 % faster.
        pitch: shift in semitones.

    Returns:
        (m,) float32 waveform at the same rate, m ~ n / speed.

    Raises:
        SynthesisError: sox is missing or fails.
    """
    if speed <= 0:
        raise SynthesisError(f"speed must be positive, got {speed}")
    if speed == 1.0 and pitch == 0.0:
        return np.asarray(wave, dtype=np.float32)
    if shutil.which("sox") is None:
        raise SynthesisError(f"speed/pitch augmentation needs sox, which is not installed ({INSTALL_HINTS['sox']})")
    raw = ["-t", "raw", "-e", "floating-point", "-b", "32", "-c", "1"]
    effects = (["tempo", "-s", f"{speed:.4f}"] if speed != 1.0 else []) + (
        ["pitch", f"{pitch * 100:.1f}"] if pitch != 0.0 else []
    )
    proc = subprocess.run(
        ["sox", "-D", *raw, "-r", str(rate), "-", *raw, "-", *effects],
        input=np.asarray(wave, dtype="<f4").tobytes(),
        capture_output=True,
        timeout=60,
        check=False,
    )
    if proc.returncode != 0:
        raise SynthesisError(f"sox {' '.join(effects)} failed: {proc.stderr.decode(errors='replace').strip()}")
    return np.frombuffer(proc.stdout, dtype="<f4").astype(np.float32)


def coloured_noise(n: int, rng: np.random.Generator, exponent: float = 0.0) -> np.ndarray:
    """Gaussian noise with power spectrum ~ 1 / f**exponent (0 white, 1 pink, 2 brown), unit RMS, (n,)."""
    white = rng.standard_normal(n)
    if exponent:
        spectrum = np.fft.rfft(white)  # (n // 2 + 1,)
        freqs = np.fft.rfftfreq(n)
        freqs[0] = freqs[1] if n > 1 else 1.0
        white = np.fft.irfft(spectrum / freqs ** (exponent / 2), n=n)
    return (white / (np.sqrt(np.mean(white**2)) + 1e-12)).astype(np.float32)


def add_noise(wave: np.ndarray, snr_db: float, rng: np.random.Generator, exponent: float = 0.0) -> np.ndarray:
    """Add noise at `snr_db` dB below the speech's RMS; (n,) -> (n,) float32."""
    rms = float(np.sqrt(np.mean(np.square(wave, dtype=np.float64))))
    noise = coloured_noise(wave.size, rng, exponent) * rms * 10 ** (-snr_db / 20)
    return (wave + noise).astype(np.float32)


def normalize_peak(wave: np.ndarray, peak: float) -> np.ndarray:
    """Scale so that the largest absolute sample is `peak` (silence stays silence)."""
    top = float(np.abs(wave).max()) if wave.size else 0.0
    return wave if top == 0.0 else (wave * (peak / top)).astype(np.float32)
