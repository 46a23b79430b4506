"""Planning: deterministic per seed, held-out voices kept out of train, gender labels from the voice."""

from __future__ import annotations

import dataclasses

import pytest

from soundwave.errors import ConfigError
from soundwave.synth.plan import plan_corpus, resolve_voices
from soundwave.synth.recipe import SynthRecipe
from soundwave.synth.voices import get_voice


def _plan(recipe: SynthRecipe):
    return plan_corpus(recipe, resolve_voices(recipe, check_installed=False))


def test_plan_is_deterministic_and_grows_by_appending() -> None:
    recipe = SynthRecipe(seed=3).with_num(300)
    first, again = _plan(recipe), _plan(recipe)
    assert [j.to_dict() for j in first["train"]] == [j.to_dict() for j in again["train"]]
    other = _plan(dataclasses.replace(recipe, seed=4))
    assert [j.transcript for j in other["train"]] != [j.transcript for j in first["train"]]
    bigger = _plan(dataclasses.replace(recipe, num_train=400))
    assert bigger["train"][:300] == first["train"]


def test_held_out_voices_never_in_train_and_texts_disjoint() -> None:
    recipe = SynthRecipe(seed=1).with_num(1500)
    jobs = _plan(recipe)
    held_out_speakers = {get_voice(v).speaker for v in recipe.held_out_voices}
    for split in ("train", "valid"):
        assert not {j.voice for j in jobs[split]} & set(recipe.held_out_voices)
        assert not {get_voice(j.voice).speaker for j in jobs[split] if j.voice} & held_out_speakers
    assert {j.voice for j in jobs["test_heldout_voice"]} == set(recipe.held_out_voices)
    assert "text" not in {j.task for j in jobs["test_heldout_voice"]}
    train_text = {j.transcript for j in jobs["train"]}
    for split in ("valid", "test_heldout_voice"):
        assert not {j.transcript for j in jobs[split] if j.transcript} & train_text
        assert all(j.speed == 1.0 and j.pitch == 0.0 and j.snr_db is None for j in jobs[split])
    assert any(j.speed != 1.0 for j in jobs["train"]) and any(j.snr_db for j in jobs["train"])


def test_gender_labels_match_the_voice_and_are_balanced() -> None:
    jobs = _plan(SynthRecipe(seed=2).with_num(2000))["train"]
    gender = [j for j in jobs if j.task == "gender"]
    assert gender and all(j.answer == get_voice(j.voice).gender for j in gender)
    females = sum(j.answer == "female" for j in gender)
    assert 0.4 < females / len(gender) < 0.6
    assert {j.task for j in jobs} == {"asr", "qa", "gender", "text"}
    assert all(j.audio is None and j.voice is None for j in jobs if j.task == "text")
    assert all(j.answer == j.transcript for j in jobs if j.task == "asr")


def test_holding_out_one_voice_of_a_speaker_heard_in_train_is_an_error() -> None:
    recipe = SynthRecipe(voices={"festival:slt": 1.0}, held_out_voices=("flite:slt",))
    with pytest.raises(ConfigError, match="speaker 'slt'"):
        resolve_voices(recipe, check_installed=False)
