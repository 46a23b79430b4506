"""sub_configs.py: our composite configs on transformers with and without `SubConfigSpec` (5.25 vs 5.17)."""

from types import SimpleNamespace

from transformers import AutoConfig, LlamaConfig, WhisperConfig

from soundwave.model import sub_configs
from soundwave.model.sub_configs import SubConfig, build_sub_configs

SUBS = {
    "text_config": SubConfig(AutoConfig, model_type="llama"),
    "audio_config": SubConfig(WhisperConfig, optional=True),
    "encoder_config": SubConfig(AutoConfig, model_type="wavlm", optional=True),
}


def test_without_sub_config_spec_dicts_become_configs_as_transformers_would(monkeypatch):
    monkeypatch.setattr(sub_configs, "HAS_SUB_CONFIG_SPEC", False)  # as on transformers 5.17
    whisper = WhisperConfig(d_model=16)
    config = SimpleNamespace(text_config={"hidden_size": 32}, audio_config=None, encoder_config=whisper.to_dict())
    build_sub_configs(config, SUBS)
    assert isinstance(config.text_config, LlamaConfig) and config.text_config.hidden_size == 32  # default type
    assert config.audio_config is None  # optional: stays None
    assert isinstance(config.encoder_config, WhisperConfig) and config.encoder_config.d_model == 16  # its own type
    required = SimpleNamespace(text_config=None, audio_config=whisper, encoder_config=None)
    build_sub_configs(required, SUBS)
    assert isinstance(required.text_config, LlamaConfig) and required.audio_config is whisper  # objects kept


def test_with_sub_config_spec_transformers_builds_them(monkeypatch):
    monkeypatch.setattr(sub_configs, "HAS_SUB_CONFIG_SPEC", True)
    config = SimpleNamespace(text_config={"hidden_size": 32}, audio_config=None, encoder_config=None)
    build_sub_configs(config, SUBS)
    assert config.text_config == {"hidden_size": 32}  # left to transformers' own __post_init__


def test_soundwave_config_builds_its_sub_configs_on_the_installed_transformers():
    from soundwave.model import SoundwaveConfig

    config = SoundwaveConfig(text_config={"hidden_size": 32, "vocab_size": 50}, audio_config={"d_model": 16})
    assert isinstance(config.text_config, LlamaConfig) and isinstance(config.audio_config, WhisperConfig)
    assert config.adapter_size == 16
    again = SoundwaveConfig.from_dict(config.to_dict())
    assert again.text_config.hidden_size == 32 and again.audio_config.d_model == 16
