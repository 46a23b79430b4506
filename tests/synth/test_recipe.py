"""The synth recipe: the shipped YAML, strict keys, overrides."""

from __future__ import annotations

from pathlib import Path

import pytest

from soundwave.errors import ConfigError
from soundwave.synth.recipe import SynthRecipe, load_recipe
from soundwave.synth.voices import get_voice

REPO = Path(__file__).resolve().parents[2]


def test_shipped_default_config_is_the_dataclass_default() -> None:
    assert load_recipe(REPO / "configs/synth/default.yaml") == SynthRecipe()


def test_unknown_keys_and_bad_values_are_errors(tmp_path: Path) -> None:
    path = tmp_path / "r.yaml"
    path.write_text("num_trian: 5\n")
    with pytest.raises(ConfigError, match="num_trian"):
        load_recipe(path)
    path.write_text("augment: {speed: [1.2, 0.9]}\n")
    with pytest.raises(ConfigError, match="augment.speed"):
        load_recipe(path)
    path.write_text("tasks: {asr: 1, dance: 1}\n")
    with pytest.raises(ConfigError, match="dance"):
        load_recipe(path)
    with pytest.raises(ConfigError, match="both in voices and held_out_voices"):
        SynthRecipe(voices={"flite:rms": 1.0}, held_out_voices=("flite:rms",))


def test_with_num_scales_eval_splits_and_with_tasks_restricts() -> None:
    recipe = SynthRecipe().with_num(120)
    assert (recipe.num_train, recipe.num_valid, recipe.num_test) == (120, 4, 3)
    assert set(SynthRecipe().with_tasks(["asr", "gender"]).tasks) == {"asr", "gender"}
    with pytest.raises(ConfigError, match="unknown task"):
        SynthRecipe().with_tasks(["asr", "sing"])


@pytest.mark.parametrize("path", sorted((REPO / "configs/synth").glob("*.yaml")), ids=lambda p: p.stem)
def test_shipped_corpora_share_held_out_voices_none_of_whose_speakers_or_accents_train(path: Path) -> None:
    recipe = load_recipe(path)
    assert recipe.held_out_voices == SynthRecipe().held_out_voices
    held = [get_voice(v) for v in recipe.held_out_voices]
    trained = [get_voice(v) for v in recipe.voices]
    assert not {v.speaker for v in held} & {v.speaker for v in trained}
    # the held-out espeak voice is an unseen accent, not only an unseen variant
    held_accents = {v.accent for v in held if v.engine == "espeak"}
    assert held_accents and not held_accents & {v.accent for v in trained if v.engine == "espeak"}
