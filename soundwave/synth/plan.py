"""Plan a corpus before any audio exists: one `Job` per utterance, each drawn from its own generator seeded by
(seed, split, index). The same recipe gives the same jobs, and growing `num_train` only appends jobs.

Voices: train and valid use the recipe's `voices`; `test_heldout_voice` uses only `held_out_voices`, whose
speakers must never be heard in train. Voices whose engine is missing here are left out and reported.
"""

from __future__ import annotations

import hashlib
import json
import random
from dataclasses import asdict, dataclass, field
from typing import Any

from soundwave.errors import ConfigError
from soundwave.synth.recipe import SPLITS, SynthRecipe
from soundwave.synth.tasks import draft
from soundwave.synth.voices import Voice, get_voice, missing_reason

_BUCKET = {"train": "train", "valid": "valid", "test_heldout_voice": "test"}


@dataclass(frozen=True)
class Job:
    """One planned sample: its text, and for audio tasks the voice and augmentation that render it."""

    id: str
    split: str
    task: str
    prompt: str
    answer: str
    transcript: str | None = None
    voice: str | None = None
    speed: float = 1.0
    pitch: float = 0.0
    snr_db: float | None = None
    noise_exponent: float = 0.0
    peak: float = 0.9
    seed: int = 0
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def audio(self) -> str | None:
        """The wav path relative to the corpus folder; it names a hash of everything that shapes the audio,
        so a changed recipe never reuses a stale file."""
        if self.voice is None:
            return None
        shape = [
            self.voice,
            self.transcript,
            self.speed,
            self.pitch,
            self.snr_db,
            self.noise_exponent,
            self.peak,
        ]
        digest = hashlib.sha1(json.dumps(shape + [self.seed]).encode()).hexdigest()[:10]
        return f"audio/{self.split}/{self.id}-{digest}.wav"

    def to_dict(self) -> dict[str, Any]:
        """Plain data, for passing to worker processes and for tests."""
        return asdict(self)


@dataclass(frozen=True)
class VoicePlan:
    """The voices each split uses (after dropping uninstalled ones) and why any were dropped."""

    train: dict[str, float]
    held_out: tuple[str, ...]
    missing: dict[str, str]

    def for_split(self, split: str) -> dict[str, float]:
        """voice id -> weight for `split`."""
        return {v: 1.0 for v in self.held_out} if split == "test_heldout_voice" else self.train


def resolve_voices(recipe: SynthRecipe, check_installed: bool = True) -> VoicePlan:
    """Check the recipe's voices: known, installed (else dropped with the install command), held-out
    speakers unheard in train, and at least one voice left on each side.

    Raises:
        ConfigError: unknown voice, shared speaker, or no usable voice for train or for the held-out test.
    """
    missing: dict[str, str] = {}

    def usable(voice_id: str) -> bool:
        reason = missing_reason(get_voice(voice_id)) if check_installed else None
        if reason:
            missing[voice_id] = reason
        return reason is None

    train = {v: w for v, w in recipe.voices.items() if w > 0 and usable(v)}
    held_out = tuple(v for v in recipe.held_out_voices if usable(v))
    train_speakers = {get_voice(v).speaker: v for v in recipe.voices}
    for voice_id in recipe.held_out_voices:
        speaker = get_voice(voice_id).speaker
        if speaker in train_speakers:
            raise ConfigError(
                f"held-out voice {voice_id} is speaker {speaker!r}, who is also heard in train through "
                f"{train_speakers[speaker]}; hold out both or neither"
            )
    hints = "; ".join(f"{v}: {r}" for v, r in missing.items())
    if not train and recipe.num_train + recipe.num_valid:
        raise ConfigError(f"no training voice can be used here ({hints})")
    if not held_out and recipe.num_test:
        raise ConfigError(f"no held-out voice can be used here ({hints})")
    return VoicePlan(train=train, held_out=held_out, missing=missing)


def _pick_voice(rng: random.Random, voices: dict[str, float], gender: str | None = None) -> Voice:
    names = sorted(v for v in voices if gender is None or get_voice(v).gender == gender)
    return get_voice(rng.choices(names, weights=[voices[n] for n in names])[0])


def plan_job(recipe: SynthRecipe, voices: dict[str, float], split: str, index: int) -> Job:
    """Plan sample `index` of `split`, from its own generator (independent of every other sample)."""
    rng = random.Random(f"{recipe.seed}/{split}/{index}")
    tasks = {t: w for t, w in recipe.tasks.items() if w > 0 and not (t == "text" and split == "test_heldout_voice")}
    names = sorted(tasks)
    task = rng.choices(names, weights=[tasks[t] for t in names])[0]
    text = draft(task, rng, recipe.asr_sources, _BUCKET[split], recipe.text_holdout)
    job_id = f"{split}-{index:06d}"
    extra = {"split": split, "source": text.source, **text.extra}
    if text.spoken is None:
        return Job(job_id, split, task, text.prompt, str(text.answer), extra=extra)
    gender = None
    if task == "gender":  # balance the classes, whatever the voice weights
        genders = sorted({get_voice(v).gender for v in voices})
        gender = rng.choice(genders)
    voice = _pick_voice(rng, voices, gender)
    answer = voice.gender if task == "gender" else str(text.answer)
    speed, pitch, snr_db, exponent, peak = 1.0, 0.0, None, 0.0, 0.9
    aug = recipe.augment
    if split == "train":
        if rng.random() < aug.probability:
            speed, pitch = round(rng.uniform(*aug.speed), 3), round(rng.uniform(*aug.pitch), 2)
        if rng.random() < aug.noise_probability:
            snr_db, exponent = round(rng.uniform(*aug.snr_db), 1), float(rng.choice((0, 1, 2)))
        peak = round(rng.uniform(*aug.peak), 3)
    return Job(
        job_id, split, task, text.prompt, answer, text.spoken, voice.id, speed, pitch, snr_db, exponent, peak,
        seed=rng.getrandbits(32), extra=extra,
    )  # fmt: skip


def plan_corpus(recipe: SynthRecipe, voices: VoicePlan) -> dict[str, list[Job]]:
    """Every split's jobs, in index order."""
    return {
        split: [plan_job(recipe, voices.for_split(split), split, i) for i in range(recipe.num(split))]
        for split in SPLITS
    }
