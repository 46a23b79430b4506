"""EvalConfig: YAML keys and types are checked, flags override, the shipped configs load."""

from pathlib import Path

import pytest

from soundwave.errors import ConfigError
from soundwave.eval.config import EvalConfig, build_eval_config, load_eval_config
from soundwave.eval.run import default_output_dir, generation_options

CONFIGS = Path(__file__).parents[2] / "configs" / "eval"


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"limit": True}, "limit: expected int, got True"),
        ({"batch_size": "8"}, "batch_size: expected int"),
        ({"task": "summarize"}, "task: expected one of"),
        ({"baseline": "wav2vec"}, "baseline: expected one of"),
        ({"limit": 0}, "limit: expected a positive integer"),
        ({"model": None}, None),  # null is allowed where the type says `| None`
        ({"batch_size": None}, "batch_size: expected int, got None"),
        ({"repetition_penalty": 1}, None),  # an int where a float is expected is a number all the same
        ({"repetition_penalty": "1.2"}, "repetition_penalty: expected float"),
        ({"repetition_penalty": 0.0}, r"repetition_penalty: expected a value in \[0.01, 100.0\]"),
        ({"num_beams": 0}, r"num_beams: expected a value in \[1, 16\]"),  # ranges: the options' declaration
        ({"seed": 2**64}, "seed: expected a value in"),
        ({"num_beam": 2}, "unknown key.*num_beam.*decoding options"),
    ],
)
def test_types_are_checked(values: dict, message: str | None) -> None:
    if message is None:
        build_eval_config(values)
        return
    with pytest.raises(ConfigError, match=message):
        build_eval_config(values)


def test_overrides_and_file_errors(tmp_path: Path) -> None:
    path = tmp_path / "x.yaml"
    path.write_text("model: m\ndata: d.jsonl\nlimit: 10\n")
    config = load_eval_config(path, overrides={"limit": 2, "task": None})
    assert (config.limit, config.task, config.model) == (2, "asr", "m")
    path.write_text("- a list\n")
    with pytest.raises(ConfigError, match="expected a mapping"):
        load_eval_config(path)
    with pytest.raises(ConfigError, match="no such eval config"):
        load_eval_config(tmp_path / "missing.yaml")


def test_shipped_configs_load() -> None:
    for path in sorted(CONFIGS.glob("*.yaml")):
        config = load_eval_config(path)
        assert Path(config.data).is_file(), f"{path}: {config.data} is not in the repository"


def test_generation_and_default_output() -> None:
    config = build_eval_config(
        {
            "model": "whisper-tiny.en",
            "data": "data/eval/cards.jsonl",
            "baseline": "whisper",
            "greedy": True,
            "max_new_tokens": 64,
        }
    )
    assert generation_options(config) == {"do_sample": False, "max_new_tokens": 64}
    assert default_output_dir(config) == Path("runs/eval/whisper-tiny.en-whisper-baseline/cards-asr")
    assert generation_options(EvalConfig()) == {}  # the model's own (evaluate() makes non-asr tasks greedy)
    assert generation_options(build_eval_config({"greedy": False})) == {"do_sample": True}
    penalised = generation_options(build_eval_config({"repetition_penalty": 1.2}))
    assert penalised == {"repetition_penalty": 1.2}
