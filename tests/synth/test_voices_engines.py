"""Voices and engines: ids, genders, install hints, and real 16 kHz mono speech from each engine."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from soundwave.errors import ConfigError
from soundwave.synth import voices as voices_module
from soundwave.synth.engines import render, synthesize
from soundwave.synth.voices import CATALOGUE, SynthesisError, get_voice, missing_reason

from .conftest import needs


def test_voice_ids_genders_and_speakers() -> None:
    assert get_voice("flite:slt").gender == "female" and get_voice("festival:slt").speaker == "slt"
    assert all(get_voice(v).gender == "male" for v in ("flite:kal", "flite:kal16", "flite:awb", "flite:rms"))
    assert get_voice("piper:joe").gender == "male" and get_voice("hibari:heart").gender == "female"
    espeak = get_voice("espeak:en-gb-scotland+f4")
    assert (espeak.gender, espeak.accent, espeak.id) == ("female", "scottish", "espeak:en-gb-scotland+f4")
    assert get_voice("espeak:en-us+m7").gender == "male"
    named = get_voice("espeak:en-us-nyc+linda")  # a named variant, in an accent no corpus trains on
    assert (named.gender, named.accent, named.speaker) == ("female", "us-nyc", "espeak-en-us-nyc+linda")
    assert get_voice("espeak:en-gb+klatt3").gender == "male"
    assert all(CATALOGUE[v].id == v for v in CATALOGUE)
    for bad in ("flite:nobody", "espeak:en-us+f7", "espeak:xx+m1", "espeak:en-us+nobody", "espeak:xx+klatt", "slt"):
        with pytest.raises(ConfigError):
            get_voice(bad)


def test_missing_engine_is_named_with_its_install_command(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(voices_module.shutil, "which", lambda name: None)
    reason = missing_reason(get_voice("flite:slt"))
    assert reason is not None and "apt-get install flite" in reason
    with pytest.raises(SynthesisError, match="apt-get install espeak-ng"):
        render(get_voice("espeak:en-us+m1"), "Hello there.")


def _check_wav(path: Path, seconds: tuple[float, float]) -> np.ndarray:
    info = sf.info(str(path))
    assert (info.samplerate, info.channels, info.subtype) == (16000, 1, "PCM_16")
    wave, _ = sf.read(str(path), dtype="float32")
    assert seconds[0] < wave.size / 16000 < seconds[1]
    assert np.sqrt(np.mean(wave**2)) > 0.01  # speech, not silence
    return wave


@pytest.mark.parametrize("voice_id", ["espeak:en-us+f2", "flite:kal", "flite:kal16", "festival:ked", "hibari:heart"])
def test_engines_write_16k_mono_speech(voice_id: str, tmp_path: Path) -> None:
    if reason := missing_reason(get_voice(voice_id)):
        pytest.skip(reason)
    out = tmp_path / "a.wav"
    duration = synthesize(get_voice(voice_id), "The red car is parked outside the library.", out)
    wave = _check_wav(out, (1.0, 6.0))
    assert duration == pytest.approx(wave.size / 16000)
    assert not list(tmp_path.glob(".*tmp*")), "the temporary file must be renamed away"


@pytest.mark.slow  # loading piper's 60 MB model takes 2-7 s
@needs("piper:joe", "festival:slt")
def test_slow_engines_write_16k_mono_speech(tmp_path: Path) -> None:
    for voice_id in ("piper:joe", "festival:slt"):
        synthesize(get_voice(voice_id), "The red car is parked outside the library.", tmp_path / "a.wav")
        _check_wav(tmp_path / "a.wav", (1.0, 6.0))


@needs("espeak:en-us+f2")
def test_speed_and_pitch_change_the_audio(tmp_path: Path) -> None:
    voice = get_voice("espeak:en-us+f2")
    plain = render(voice, "One two three four five six seven.")
    if missing_reason(voice) is None and __import__("shutil").which("sox") is None:
        pytest.skip("sox not installed (apt-get install sox)")
    faster = render(voice, "One two three four five six seven.", speed=1.25)
    assert faster.size == pytest.approx(plain.size / 1.25, rel=0.05)
    higher = render(voice, "One two three four five six seven.", pitch=3.0)
    assert higher.size == pytest.approx(plain.size, rel=0.02) and not np.allclose(higher, plain[: higher.size])


@needs("espeak:en-us+f2")
def test_a_sentence_an_engine_cannot_say_raises_synthesis_error(tmp_path: Path) -> None:
    with pytest.raises(SynthesisError, match="empty text"):
        synthesize(get_voice("espeak:en-us+f2"), "  ", tmp_path / "x.wav")
    with pytest.raises(SynthesisError, match="silence"):
        synthesize(get_voice("espeak:en-us+f2"), "...", tmp_path / "x.wav")
    assert not (tmp_path / "x.wav").exists()
