"""`load_audio` on hostile and broken input: capped decoding, out-of-range samples, truncated files, and paths that
are not files. Each message names the input as the caller called it, never `<_io.BytesIO object at 0x...>`."""

from __future__ import annotations

import io
import logging
import os
import shutil
import subprocess
import tracemalloc

import numpy as np
import pytest
import soundfile as sf

from soundwave.audio import MAX_AMPLITUDE, SAMPLE_RATE, load_audio
from soundwave.errors import AudioError, AudioTooLong
from tests.conftest import ASSETS

SPEECH = ASSETS / "speech" / "librivox" / "sense_and_sensibility_01_austen_64kb-0930.wav"  # 3.29 s
needs_ffmpeg = pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="needs ffmpeg")


def encoded(wave: np.ndarray, rate: int = SAMPLE_RATE, fmt: str = "WAV", subtype: str | None = None) -> bytes:
    buffer = io.BytesIO()
    sf.write(buffer, wave, rate, format=fmt, subtype=subtype)
    return buffer.getvalue()


def silent_aac(seconds: float) -> bytes:
    """An 8 kbit/s ADTS AAC of silence: a few hundred bytes per minute, decoded only by ffmpeg."""
    command = ["ffmpeg", "-nostdin", "-v", "error", "-f", "lavfi", "-i", "anullsrc=r=8000:cl=mono", "-t", str(seconds)]
    command += ["-c:a", "aac", "-b:a", "8k", "-f", "adts", "-"]
    return subprocess.run(command, capture_output=True, check=True).stdout


def test_header_over_the_limit_is_refused_without_decoding(monkeypatch):
    flac = encoded(np.zeros(590 * 1000, np.float32), rate=1000, fmt="FLAC")  # 590 s in ~2 kB
    monkeypatch.setattr("soundfile.SoundFile.read", lambda *a, **k: pytest.fail("decoded despite its header"))
    with pytest.raises(AudioTooLong, match="590.0 s of audio is over the limit of 60 s") as caught:
        load_audio(flac, max_seconds=60, name="upload")
    assert (caught.value.seconds, caught.value.limit) == (590.0, 60)


def flac_without_length(seconds: float, rate: int = 1000) -> bytes:
    """A FLAC whose STREAMINFO says "length unknown" (0 samples), as streaming encoders write it."""
    data = bytearray(encoded(np.zeros(int(seconds * rate), np.float32), rate=rate, fmt="FLAC"))
    start = 18  # "fLaC", the block header, 10 bytes of block/frame sizes: then rate | channels | bits | 36-bit length
    field = int.from_bytes(data[start : start + 8], "big") & ~((1 << 36) - 1)
    data[start : start + 8] = field.to_bytes(8, "big")
    return bytes(data)


def test_a_header_without_the_length_decodes_up_to_the_limit():
    with pytest.raises(AudioTooLong, match="x: the audio is over the limit of 60 s"):  # not "9e18 s of audio"
        load_audio(flac_without_length(3000), max_seconds=60, name="x")
    assert load_audio(flac_without_length(10), max_seconds=60).shape == (10 * SAMPLE_RATE,)
    assert load_audio(flac_without_length(10)).shape == (10 * SAMPLE_RATE,)


def test_within_the_limit_decodes_all_of_it():
    wave = load_audio(encoded(np.zeros(2 * 1000, np.float32), rate=1000, fmt="FLAC"), max_seconds=2.0)
    assert wave.shape == (2 * SAMPLE_RATE,)


@needs_ffmpeg
def test_ffmpeg_decoding_stops_past_the_limit(monkeypatch):
    bomb = silent_aac(120)  # made before the spy goes in
    decoded, run = [], subprocess.run

    def spy(*args, **kwargs):
        result = run(*args, **kwargs)
        decoded.append(len(result.stdout))
        return result

    monkeypatch.setattr("soundwave.audio.subprocess.run", spy)
    with pytest.raises(AudioTooLong, match="upload: the audio is over the limit of 5 s") as caught:
        load_audio(bomb, max_seconds=5, name="upload")
    assert caught.value.seconds is None  # not decoded to its end, so its length is unknown
    assert decoded == [6 * SAMPLE_RATE * 4]  # float32 bytes of 6 s (the limit + 1), not of 120 s
    monkeypatch.undo()
    assert load_audio(silent_aac(3), max_seconds=5).shape[0] == pytest.approx(3 * SAMPLE_RATE, rel=0.1)


def test_many_channels_at_a_high_rate_cost_the_mono_output_not_the_file():
    buffer = io.BytesIO()
    with sf.SoundFile(buffer, "w", samplerate=192_000, channels=8, format="FLAC") as file:
        for _ in range(30):
            file.write(np.zeros((192_000, 8), np.float32))
    flac = buffer.getvalue()  # 30 s of silence in ~50 kB: 184 MB as (frames, 8) float32
    tracemalloc.start()  # numpy's buffers are traced: the peak of what decoding held at once
    try:
        wave = load_audio(flac, max_seconds=60)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert wave.shape == (30 * SAMPLE_RATE,)
    assert peak < 20e6  # 2 MB of output plus a block; it was 200 MB (the whole file, then its mean)


@pytest.mark.parametrize("value", [np.nan, np.inf, 1e19, -2 * MAX_AMPLITUDE])
def test_non_finite_or_absurd_samples_are_refused(value):
    wave = np.zeros(SAMPLE_RATE, np.float32)
    wave[100] = value
    with pytest.raises(AudioError, match="NaN or infinite" if not np.isfinite(value) else "samples reach"):
        load_audio(encoded(wave, subtype="FLOAT"), name="clip.wav")
    with pytest.raises(AudioError):
        load_audio(wave, sampling_rate=SAMPLE_RATE)


def test_loud_but_sane_float_audio_is_kept():
    wave = np.full(SAMPLE_RATE, 2.5, np.float32)  # over full scale, as float files may be
    assert load_audio(encoded(wave, subtype="FLOAT")).max() == pytest.approx(2.5)


@needs_ffmpeg
def test_truncated_flac_warns_that_it_is_shorter_than_its_header(caplog):
    flac = encoded(sf.read(SPEECH, dtype="float32")[0], fmt="FLAC")
    with caplog.at_level(logging.WARNING, logger="soundwave.audio"):
        wave = load_audio(flac[: len(flac) * 45 // 100], name="cut.flac")
    assert wave.shape[0] < 2 * SAMPLE_RATE  # what is there still decodes
    assert "cut.flac: decoded 1." in caplog.text and "header says 3.29 s" in caplog.text
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="soundwave.audio"):
        load_audio(flac, name="whole.flac")
    assert "truncated" not in caplog.text


def test_paths_that_are_not_audio_files_are_named_as_what_they_are(tmp_path):
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    link = tmp_path / "zero.wav"
    link.symlink_to("/dev/zero")
    broken = tmp_path / "gone.wav"
    broken.symlink_to(tmp_path / "nowhere.wav")
    cases = {
        tmp_path: "is a directory, not an audio file",
        fifo: "is a named pipe (FIFO), not an audio file",  # never opened: reading it would block
        link: "(a link to /dev/zero): is a character device, not an audio file",
        tmp_path / "missing.wav": "no such audio file",
        broken: "no such audio file (a broken link to",
    }
    for path, words in cases.items():
        with pytest.raises(AudioError, match=None) as caught:
            load_audio(path)
        assert str(caught.value).startswith(str(path)) and words in str(caught.value), caught.value


def test_in_memory_audio_is_named_by_the_caller_never_by_its_buffer():
    with pytest.raises(AudioError) as caught:
        load_audio(b"this is not audio at all", name="file 'notes.txt'")
    message = str(caught.value)
    assert message.startswith("file 'notes.txt': not readable as audio") and "BytesIO" not in message
    with pytest.raises(AudioError, match="^<bytes>: ") as caught:
        load_audio(b"still not audio")
    assert "BytesIO" not in str(caught.value)
