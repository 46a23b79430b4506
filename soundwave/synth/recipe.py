"""The recipe of a synthetic corpus: how many utterances, which tasks, voices and augmentation, from which
seed. A frozen dataclass read from YAML (`configs/synth/default.yaml`); unknown keys are errors.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from soundwave.errors import ConfigError

TASKS = ("asr", "qa", "gender", "text")
ASR_SOURCES = ("everyday", "fortune", "wordnet", "words", "definition", "fortune_wide")
SPLITS = ("train", "valid", "test_heldout_voice")
# natural-sounding voices weigh most; espeak-ng (robotic) adds accents and many timbres at a small weight
DEFAULT_VOICES = {
    "piper:joe": 3.0,
    "hibari:heart": 3.0,
    "flite:kal": 0.5,
    "flite:kal16": 1.0,
    "flite:awb": 1.0,
    "flite:slt": 1.5,
    "festival:kal": 0.75,
    "festival:ked": 1.0,
    "festival:slt": 1.0,
    **{
        f"espeak:{voice}": 0.25
        for voice in (
            "en-us+m1", "en-us+m3", "en-us+f2", "en-us+f4", "en-gb+m2", "en-gb+f3",
            "en-gb-x-rp+m4", "en-gb-x-rp+f1", "en-gb-scotland+m5", "en-gb-scotland+f5",
            "en-gb-x-gbclan+m6", "en-gb-x-gbcwmd+f4",
        )
    },
}  # fmt: skip


@dataclass(frozen=True)
class AugmentRecipe:
    """Training-split augmentation; each range is (low, high), drawn uniformly per utterance.

    Attributes:
        probability: chance that an utterance gets speed and pitch changes.
        speed: tempo factors.
        pitch: semitone shifts.
        noise_probability: chance of added background noise (white, pink or brown).
        snr_db: signal-to-noise ratios.
        peak: final peak level (every split is normalized; only train draws it from this range).
    """

    probability: float = 0.5
    speed: tuple[float, float] = (0.9, 1.15)
    pitch: tuple[float, float] = (-2.0, 2.0)
    noise_probability: float = 0.3
    snr_db: tuple[float, float] = (12.0, 35.0)
    peak: tuple[float, float] = (0.3, 0.95)

    def __post_init__(self) -> None:
        for name in ("probability", "noise_probability"):
            if not 0 <= getattr(self, name) <= 1:
                raise ConfigError(f"synth recipe: augment.{name} must be in [0, 1], got {getattr(self, name)}")
        for name in ("speed", "pitch", "snr_db", "peak"):
            low_high = getattr(self, name)
            if len(low_high) != 2 or low_high[0] > low_high[1]:
                raise ConfigError(f"synth recipe: augment.{name} must be [low, high], got {list(low_high)}")
        if self.speed[0] <= 0 or not 0 < self.peak[0] <= self.peak[1] <= 1:
            raise ConfigError("synth recipe: augment.speed must be > 0 and augment.peak within (0, 1]")


@dataclass(frozen=True)
class SynthRecipe:
    """Everything that decides a corpus; the same recipe and seed give the same corpus.

    Attributes:
        seed: seeds every draw (text, task, voice, augmentation, noise).
        num_train / num_valid / num_test: utterances per split (`test` is `test_heldout_voice`).
        tasks: task -> weight (asr, qa, gender, text); the held-out-voice test leaves out `text`.
        asr_sources: text source -> weight for asr and gender audio (everyday, fortune, wordnet, words,
            definition, fortune_wide).
        voices: voice id -> weight, for train and valid.
        held_out_voices: voices used only in the held-out test; their speakers must not be in `voices`.
        text_holdout: fraction of sentences (by hash) reserved for valid and for test each, so no eval
            sentence is ever spoken in train.
        augment: training augmentation.
    """

    seed: int = 0
    num_train: int = 12000
    num_valid: int = 400
    num_test: int = 300
    tasks: dict[str, float] = field(default_factory=lambda: {"asr": 0.5, "qa": 0.32, "gender": 0.1, "text": 0.08})
    asr_sources: dict[str, float] = field(default_factory=lambda: {"everyday": 0.45, "fortune": 0.45, "words": 0.1})
    voices: dict[str, float] = field(default_factory=lambda: dict(DEFAULT_VOICES))
    held_out_voices: tuple[str, ...] = ("flite:rms", "espeak:en-029+f3")
    text_holdout: float = 0.05
    augment: AugmentRecipe = field(default_factory=AugmentRecipe)

    def __post_init__(self) -> None:
        for name in ("num_train", "num_valid", "num_test"):
            if getattr(self, name) < 0:
                raise ConfigError(f"synth recipe: {name} must be >= 0, got {getattr(self, name)}")
        _check_weights("tasks", self.tasks, TASKS)
        _check_weights("asr_sources", self.asr_sources, ASR_SOURCES)
        _check_weights("voices", self.voices, None)
        if not self.held_out_voices:
            raise ConfigError("synth recipe: held_out_voices is empty; name at least one voice to hold out")
        if set(self.held_out_voices) & set(self.voices):
            both = sorted(set(self.held_out_voices) & set(self.voices))
            raise ConfigError(f"synth recipe: {both} are both in voices and held_out_voices")
        if not 0 <= self.text_holdout < 0.5:
            raise ConfigError(f"synth recipe: text_holdout must be in [0, 0.5), got {self.text_holdout}")

    def num(self, split: str) -> int:
        """Utterances planned for `split`."""
        return {"train": self.num_train, "valid": self.num_valid, "test_heldout_voice": self.num_test}[split]

    def with_num(self, num_train: int) -> SynthRecipe:
        """This recipe with `num_train` utterances, and valid/test scaled in proportion (at least 1 each)."""
        scale = num_train / max(self.num_train, 1)
        return dataclasses.replace(
            self,
            num_train=num_train,
            num_valid=max(1, round(self.num_valid * scale)) if self.num_valid else 0,
            num_test=max(1, round(self.num_test * scale)) if self.num_test else 0,
        )

    def with_tasks(self, tasks: list[str]) -> SynthRecipe:
        """This recipe restricted to `tasks` (their weights kept)."""
        unknown = sorted(set(tasks) - set(TASKS))
        if unknown:
            raise ConfigError(f"unknown task(s) {unknown}; choose from {', '.join(TASKS)}")
        missing = [t for t in tasks if self.tasks.get(t, 0) <= 0]
        if missing:
            raise ConfigError(f"task(s) {missing} have no weight in the recipe's `tasks`; give them one there")
        return dataclasses.replace(self, tasks={t: self.tasks[t] for t in tasks})


def _check_weights(name: str, weights: dict[str, float], allowed: tuple[str, ...] | None) -> None:
    if not weights or not any(w > 0 for w in weights.values()):
        raise ConfigError(f"synth recipe: {name} needs at least one positive weight, got {weights}")
    for key, weight in weights.items():
        if allowed is not None and key not in allowed:
            raise ConfigError(f"synth recipe: {name} has unknown key {key!r}; choose from {', '.join(allowed)}")
        if not isinstance(weight, int | float) or weight < 0:
            raise ConfigError(f"synth recipe: {name}.{key} must be a number >= 0, got {weight!r}")


def _build(cls: type, data: dict[str, Any], where: str) -> Any:
    names = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - set(names))
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) {unknown}; known keys: {', '.join(names)}")
    values = {}
    for key, value in data.items():
        if key == "augment":
            value = _build(AugmentRecipe, value or {}, f"{where}: augment")
        elif isinstance(value, list):
            value = tuple(value)
        values[key] = value
    try:
        return cls(**values)
    except TypeError as err:
        raise ConfigError(f"{where}: {err}") from err


def load_recipe(path: str | Path) -> SynthRecipe:
    """Read a recipe from YAML.

    Raises:
        ConfigError: the file is missing or not a mapping, has unknown keys or invalid values.
    """
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{path}: no such synth recipe")
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as err:
        raise ConfigError(f"{path}: not valid YAML ({err})") from err
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: a synth recipe is a mapping of keys, got {type(data).__name__}")
    return _build(SynthRecipe, data, str(path))


def recipe_dict(recipe: SynthRecipe) -> dict[str, Any]:
    """The recipe as plain JSON-ready data (tuples as lists)."""
    return dataclasses.asdict(recipe)
