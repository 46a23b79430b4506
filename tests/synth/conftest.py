"""Shared fixtures for the synth tests: which engines are here, and a tiny recipe on the fast ones."""

from __future__ import annotations

import pytest

from soundwave.synth.recipe import AugmentRecipe, SynthRecipe
from soundwave.synth.voices import get_voice, missing_reason

FAST_TRAIN = {"flite:kal16": 1.0, "espeak:en-us+f2": 1.0, "espeak:en-gb+m3": 1.0}
FAST_HELD_OUT = ("espeak:en-029+f3",)


def needs(*voice_ids: str) -> pytest.MarkDecorator:
    """Skip unless every voice's engine is installed (the reason names the install command)."""
    reasons = [f"{v}: {r}" for v in voice_ids if (r := missing_reason(get_voice(v)))]
    return pytest.mark.skipif(bool(reasons), reason="; ".join(reasons))


@pytest.fixture
def tiny_recipe() -> SynthRecipe:
    """8 train / 3 valid / 3 test samples on espeak-ng and flite, with augmentation exercised."""
    return SynthRecipe(
        seed=7,
        num_train=8,
        num_valid=3,
        num_test=3,
        voices=dict(FAST_TRAIN),
        held_out_voices=FAST_HELD_OUT,
        augment=AugmentRecipe(probability=0.5, noise_probability=0.5),
    )
