"""Festival kept running: one `festival --pipe` process per Python process, fed Scheme commands.

Starting festival costs 0.3-0.6 s, while a diphone sentence takes ~30 ms once it runs, so the process is
kept. Festival buffers its output when writing to a pipe, so it writes to a pseudo-terminal instead, where
each line comes out at once; after every command we print a marker line and read up to it. The process ends
by itself when our end of its stdin closes (this process exits).
"""

from __future__ import annotations

import os
import pty
import select
import subprocess
import tempfile
import termios
from pathlib import Path

import numpy as np

from soundwave.synth.voices import FESTIVAL_VOICES, SynthesisError

_MARKER = "@@soundwave-done@@"
TIMEOUT_S = 60.0


class FestivalProcess:
    """A running festival that speaks one sentence at a time into a wav file."""

    def __init__(self) -> None:
        master, slave = pty.openpty()
        attrs = termios.tcgetattr(slave)
        attrs[3] &= ~termios.ECHO  # don't echo our commands back
        termios.tcsetattr(slave, termios.TCSANOW, attrs)
        self.proc = subprocess.Popen(
            ["festival", "--pipe"], stdin=subprocess.PIPE, stdout=slave, stderr=slave, text=True
        )
        os.close(slave)
        self._master = master
        self._buffer = b""
        self._voice: str | None = None
        self._tmpdir = tempfile.TemporaryDirectory(prefix="soundwave-festival-")

    def close(self) -> None:
        """Stop festival and release the terminal."""
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        os.close(self._master)
        self._tmpdir.cleanup()

    def command(self, scheme: str) -> str:
        """Run one Scheme expression; return what festival printed (errors included)."""
        if self.proc.poll() is not None:
            raise SynthesisError(f"festival exited with {self.proc.returncode}")
        assert self.proc.stdin is not None
        self.proc.stdin.write(f'{scheme}\n(format t "{_MARKER}\\n")\n')
        self.proc.stdin.flush()
        while _MARKER.encode() not in self._buffer:
            ready, _, _ = select.select([self._master], [], [], TIMEOUT_S)
            if not ready:
                raise SynthesisError(f"festival gave no answer in {TIMEOUT_S:g} s to {scheme[:80]!r}")
            try:
                chunk = os.read(self._master, 65536)
            except OSError as err:  # EIO: festival closed the terminal (it died)
                raise SynthesisError(f"festival stopped ({err})") from err
            if not chunk:
                raise SynthesisError("festival stopped")
            self._buffer += chunk
        out, _, self._buffer = self._buffer.partition(_MARKER.encode())
        self._buffer = self._buffer.lstrip(b"\r\n")
        return out.decode(errors="replace")

    def say(self, voice: str, text: str) -> tuple[np.ndarray, int]:
        """Speak `text` with festival voice `voice` (our name: kal, ked, slt); return (waveform, rate)."""
        wave, rate, _ = self._speak(voice, text, timed=False)
        return wave, rate

    def say_timed(self, voice: str, text: str) -> tuple[np.ndarray, int, list[tuple[str, float, float]]]:
        """`say`, plus each word festival spoke (its own normalized form: "twenty one" for "21") with its start and
        end in seconds: the exact times of what it synthesized (`word_start` / `word_end` of the Word relation)."""
        return self._speak(voice, text, timed=True)

    def _speak(self, voice: str, text: str, timed: bool) -> tuple[np.ndarray, int, list[tuple[str, float, float]]]:
        import soundfile as sf

        if voice != self._voice:
            out = self.command(f"(voice_{FESTIVAL_VOICES[voice]})")
            if "SIOD ERROR" in out:
                raise SynthesisError(f"festival:{voice}: cannot load the voice ({out.strip()})")
            self._voice = voice
        wav = Path(self._tmpdir.name) / "say.wav"
        wav.unlink(missing_ok=True)
        quoted = text.replace("\\", " ").replace('"', "'")
        scheme = f'(utt.save.wave (set! soundwave_utt (utt.synth (Utterance Text "{quoted}"))) "{wav}" \'riff)'
        if timed:
            scheme += (
                '(mapcar (lambda (w) (format t "@word %s %f %f\\n" (item.name w) (item.feat w "word_start") '
                '(item.feat w "word_end"))) (utt.relation.items soundwave_utt \'Word))'
            )
        out = self.command(scheme)
        if "SIOD ERROR" in out or not wav.is_file():
            raise SynthesisError(f"festival:{voice}: failed on {text[:60]!r} ({out.strip() or 'no wav written'})")
        wave, rate = sf.read(wav, dtype="float32", always_2d=False)
        words = []
        for line in out.splitlines():
            if line.startswith("@word "):
                name, start, end = line.split()[1:4]
                words.append((name, float(start), float(end)))
        return wave, int(rate), words


_PROCESS: FestivalProcess | None = None


def forget_process() -> None:
    """Drop (without stopping) a festival inherited from a parent process, which still owns it."""
    global _PROCESS
    _PROCESS = None


def festival_say(voice: str, text: str) -> tuple[np.ndarray, int]:
    """Speak with this process's festival, starting it on first use and again after any failure."""
    global _PROCESS
    if _PROCESS is None or _PROCESS.proc.poll() is not None:
        _PROCESS = FestivalProcess()
    try:
        return _PROCESS.say(voice, text)
    except SynthesisError:  # its state is unknown after a failure: start afresh next time (~0.5 s)
        _PROCESS.close()
        _PROCESS = None
        raise
