"""The typed config loader: strict keys and types, overrides, YAML quirks, and the save/load round trip."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import pytest

from soundwave.config import apply_overrides, config_to_dict, load_config, save_config
from soundwave.errors import ConfigError


@dataclass(frozen=True)
class Optim:
    lr: float = 1e-3
    betas: tuple[float, float] = (0.9, 0.999)
    schedule: Literal["cosine", "linear"] = "cosine"

    def __post_init__(self) -> None:
        if self.lr <= 0:
            raise ConfigError(f"lr must be positive, got {self.lr}")


@dataclass(frozen=True)
class Part:
    name: str
    size: int = 1


@dataclass(frozen=True)
class Run:
    output_dir: str = "runs/x"
    seed: int = 0
    init_from: str | None = None
    trainable: tuple[str, ...] = ("adapter.*",)
    parts: list[Part] = field(default_factory=list)
    loss_weights: dict[str, float] = field(default_factory=dict)
    optim: Optim = field(default_factory=Optim)


def write(tmp_path, text: str):
    path = tmp_path / "run.yaml"
    path.write_text(text)
    return path


def test_yaml_with_nested_types_and_overrides(tmp_path):
    path = write(
        tmp_path,
        "seed: 3\ntrainable: [a, b]\nparts: [{name: p, size: 2}]\nloss_weights: {ctc: 1, lm: 0.3}\n"
        "optim:\n  lr: 1e-4\n  betas: [0.9, 0.95]\n",
    )
    cfg = load_config(Run, path, ["optim.schedule=linear", "parts[0].size=5", "init_from=runs/stage1"])
    assert cfg == Run(
        seed=3,
        init_from="runs/stage1",
        trainable=("a", "b"),
        parts=[Part("p", 5)],
        loss_weights={"ctc": 1.0, "lm": 0.3},
        optim=Optim(lr=1e-4, betas=(0.9, 0.95), schedule="linear"),
    )
    assert isinstance(cfg.optim.lr, float) and isinstance(cfg.loss_weights["ctc"], float)


@pytest.mark.parametrize("written", ["1e-4", "1E-4", "'1e-4'", "1.0e-4", "0.0001", "'0.0001'"])
def test_floats_written_like_1e_minus_4(tmp_path, written):
    assert load_config(Run, write(tmp_path, f"optim: {{lr: {written}}}")).optim.lr == pytest.approx(1e-4)
    assert load_config(Run, None, [f"optim.lr={written}"]).optim.lr == pytest.approx(1e-4)
    assert load_config(Run, {"optim": {"lr": "1e-4"}}).optim.lr == pytest.approx(1e-4)


def test_unknown_key_names_dotted_key_and_suggests(tmp_path):
    with pytest.raises(ConfigError, match=r"unknown key 'optim\.lrr' \(did you mean 'optim\.lr'\?\)"):
        load_config(Run, write(tmp_path, "optim: {lrr: 0.1}"))
    with pytest.raises(ConfigError, match=r"'sed' \(did you mean 'seed'\?\)"):
        load_config(Run, None, ["sed=1"])
    with pytest.raises(ConfigError, match=r"unknown key 'parts\[0\]\.sise' \(did you mean 'parts\[0\]\.size'"):
        load_config(Run, {"parts": [{"name": "a", "sise": 1}]})


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"seed": "abc"}, r"seed: expected int, got 'abc' \(str\)"),
        ({"seed": True}, r"seed: expected int, got True \(bool\)"),
        ({"seed": 1.5}, r"seed: expected int, got 1.5 \(float\)"),
        ({"output_dir": 12}, r"output_dir: expected str, got 12 \(int\) \(quote it"),
        ({"optim": {"lr": "fast"}}, r"optim\.lr: expected float, got 'fast'"),
        (
            {"optim": {"schedule": "step"}},
            r"optim\.schedule: expected one of \['cosine', 'linear'\], got 'step'",
        ),
        ({"optim": {"betas": [0.9]}}, r"optim\.betas: expected a list of 2 items, got 1"),
        ({"trainable": "adapter.*"}, r"trainable: expected a list, got 'adapter\.\*'"),
        ({"trainable": ["a", 3]}, r"trainable\[1\]: expected str, got 3"),
        ({"loss_weights": {"ctc": "x"}}, r"loss_weights\.ctc: expected float"),
        ({"optim": 3}, r"optim: expected a mapping of Optim fields, got 3"),
        ({"parts": [{"size": 2}]}, r"missing required key 'parts\[0\]\.name'"),
        ({"init_from": 5}, r"init_from: expected str, got 5"),
        ({"optim": {"lr": -1.0}}, r"optim: lr must be positive, got -1.0"),
    ],
)
def test_wrong_values_name_key_expected_and_got(raw, message):
    with pytest.raises(ConfigError, match=message):
        load_config(Run, raw)


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("seed", "must look like key.sub=value"),
        ("=3", "must look like key.sub=value"),
        ("optim..lr=1", "must look like key.sub=value"),
        ("seed.x=1", r"'seed' is 0, not a mapping"),
        ("parts.3.size=1", "not an index of a 1-item list"),
        ("seed=[1", "not valid YAML"),
    ],
)
def test_bad_override_syntax(override, message):
    with pytest.raises(ConfigError, match=message):
        load_config(Run, {"seed": 0, "parts": [{"name": "a"}]}, [override])


def test_override_does_not_modify_the_callers_mapping():
    raw = {"optim": {"lr": 0.5}}
    load_config(Run, raw, ["optim.lr=0.1"])
    assert raw == {"optim": {"lr": 0.5}}
    assert apply_overrides({}, ["a.b.c=x y"]) == {"a": {"b": {"c": "x y"}}}


def test_duplicate_yaml_key_is_an_error(tmp_path):
    with pytest.raises(ConfigError, match=r"run\.yaml:3: duplicate key 'lr' \(first at line 2\)"):
        load_config(Run, write(tmp_path, "optim:\n  lr: 0.1\n  lr: 0.2\n"))


def test_file_errors(tmp_path):
    with pytest.raises(ConfigError, match="no such config file"):
        load_config(Run, tmp_path / "absent.yaml")
    with pytest.raises(ConfigError, match="top level must be a mapping"):
        load_config(Run, write(tmp_path, "- a\n- b\n"))
    with pytest.raises(ConfigError, match=r"run\.yaml: .*unknown key 'x'"):
        load_config(Run, write(tmp_path, "x: 1\n"))
    assert load_config(Run, write(tmp_path, "")) == Run()


def test_section_loads_one_part_of_a_whole_run_file(tmp_path):
    path = write(tmp_path, "optim: {lr: 0.5}\nother_team: {anything: 1}\n")
    assert load_config(Optim, path, ["optim.schedule=linear"], section="optim") == Optim(0.5, schedule="linear")
    with pytest.raises(ConfigError, match="no 'data' section"):
        load_config(Optim, path, section="data")


def test_save_then_load_gives_the_same_config(tmp_path):
    cfg = Run(seed=7, parts=[Part("a", 2)], loss_weights={"ctc": 0.3}, optim=Optim(lr=1e-5, betas=(0.8, 0.9)))
    save_config(cfg, tmp_path / "ckpt" / "config.yaml")
    assert load_config(Run, tmp_path / "ckpt" / "config.yaml") == cfg
    assert config_to_dict(cfg)["optim"]["betas"] == [0.8, 0.9]  # YAML-ready: no tuples
