"""The `data:` schema: the SpeechLLM seed's section loads as written; mixes; checks that raise."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from soundwave.config import load_config
from soundwave.config.data import DataConfig, SourceConfig, TemperatureSchedule
from soundwave.errors import ConfigError

# The seed's config/train.yaml, exactly as its README writes it (../shared/seeds/003_*.txt).
SEED_YAML = """\
data:
  data_path: "parler-tts/libritts_r_filtered"  # HuggingFace dataset path or local path
  subset: "clean"           # Dataset subset (if applicable)
  split: "train.clean.100"  # Dataset split to use
  amount: ":100%"           # Percentage of dataset to use (e.g., ":10%", ":1000")
  remap_keys: {"text_normalized": "transcription"}  # Map dataset fields to expected names
  sampling_rate: 16000      # Target audio sampling rate
  min_duration: 0.01        # Minimum audio duration (seconds)
  max_duration: 15.0        # Maximum audio duration (seconds)
  num_proc_for_preprocessing: 4  # Parallel preprocessing workers

training:
  output_dir: ./output/
  freeze_modules: ["encoder", "text_decoder"]  # Modules to freeze during training
  num_train_epochs: 3
  per_device_train_batch_size: 4
  gradient_accumulation_steps: 1
  learning_rate: 1e-4
  warmup_steps: 1000
  bf16: true  # Use bfloat16 precision
  lr_scheduler_type: cosine
  optim: adamw_torch
  max_grad_norm: 1.0

model:
  speech_encoder_name_or_path: "microsoft/wavlm-large"
  text_decoder_name_or_path: "meta-llama/Llama-3.2-1B"
  downsample_factor: 5  # Speech feature downsampling
  projector_n_layers: 2  # Projector depth
  projector_activation: "relu"
  projector_hidden_size: 2048
"""


def test_seed_data_section_loads_as_written(tmp_path):
    path = tmp_path / "train.yaml"
    path.write_text(SEED_YAML)
    data = load_config(DataConfig, path, section="data")
    assert (data.data_path, data.subset, data.split, data.amount) == (
        "parler-tts/libritts_r_filtered",
        "clean",
        "train.clean.100",
        ":100%",
    )
    assert data.remap_keys == {"text_normalized": "transcription"}
    assert (data.sampling_rate, data.min_duration, data.max_duration, data.num_proc_for_preprocessing) == (
        16000,
        0.01,
        15.0,
        4,
    )
    (source,) = data.train_sources()
    assert source == SourceConfig(
        path="parler-tts/libritts_r_filtered",
        subset="clean",
        split="train.clean.100",
        amount=":100%",
        remap_keys={"text_normalized": "transcription"},
    )
    assert source.label == "libritts_r_filtered:train.clean.100"


def test_a_whole_run_config_can_hold_the_data_section(tmp_path):
    @dataclass(frozen=True)
    class RunConfig:  # the shape the training loop's config will have
        data: DataConfig = field(default_factory=DataConfig)
        training: dict = field(default_factory=dict)
        model: dict = field(default_factory=dict)

    path = tmp_path / "train.yaml"
    path.write_text(SEED_YAML)
    run = load_config(RunConfig, path, ["data.max_duration=20", "data.amount=:1000"])
    assert (run.data.max_duration, run.data.amount) == (20.0, ":1000")
    assert run.training["learning_rate"] == 1e-4  # the strict YAML loader reads 1e-4 as a float


def test_mix_of_datasets_with_temperature():
    data = load_config(
        DataConfig,
        {
            "datasets": [
                {"path": "data/asr.jsonl", "task": "asr"},
                {"path": "data/st.jsonl", "task": "st", "weight": 2, "prompt": "Translate."},
                {
                    "path": "org/hub_set",
                    "split": "test",
                    "amount": "10%:20%",
                    "remap_keys": {"text": "answer"},
                },
            ],
            "temperature": {"start": 1.0, "end": 5.0},
            "strict": True,
        },
    )
    assert [s.label for s in data.train_sources()] == ["asr", "st", "hub_set:test"]
    assert data.datasets[1].weight == 2.0 and data.strict
    assert data.temperature.at(0.0) == 1.0 and data.temperature.at(0.5) == 3.0 and data.temperature.at(2) == 5.0


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"data_path": "a", "datasets": [{"path": "b"}]}, "either data_path .* or datasets"),
        ({"split": "train"}, "split apply to data_path, which is not set"),
        ({"remap_keys": {"a": "b"}, "datasets": [{"path": "b"}]}, "remap_keys apply to data_path"),
        ({"data_path": "a", "amount": "half"}, r"amount: amount 'half': 'half' is neither"),
        ({"datasets": [{"path": "a", "amount": "1:2:3"}]}, r"datasets\[0\]: amount: .*at most one ':'"),
        (
            {"min_duration": 5.0, "max_duration": 1.0},
            r"max_duration \(1.0\) must be greater than min_duration",
        ),
        (
            {"datasets": [{"path": "x/a.jsonl"}, {"path": "y/a.jsonl"}]},
            r"called \['a'\]; give each a distinct",
        ),
        ({"datasets": [{"path": "a", "weight": 0}]}, r"datasets\[0\]: weight must be positive"),
        ({"temperature": {"start": 0}}, "temperature start and end must be positive"),
        ({"temperature": {"balance_by": "speaker"}}, r"temperature\.balance_by: expected one of"),
        ({"sampling_rate": 16000.0}, "sampling_rate: expected int"),
    ],
)
def test_bad_data_configs(raw, message):
    with pytest.raises(ConfigError, match=message):
        load_config(DataConfig, raw, section=None)


def test_no_training_data_is_reported_where_used():
    with pytest.raises(ConfigError, match="no training data"):
        DataConfig().train_sources()
    assert TemperatureSchedule().at(0.3) == 1.0
