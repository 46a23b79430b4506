"""`SoundwaveConfig`: the LLM's config plus the audio side, in the released on-disk layout.

On disk (`config.json`) a Soundwave checkpoint is a flat LLM config with `model_type: "Soundwave"` and a few extra
keys (`adapter_size`, `audio_patch_token`, `audio_tower`, `llm_pad_token_id`, ...), exactly as the release writes
it (spec section 2). In memory the LLM part lives in `text_config` (any causal LM config; Llama for the release)
and the Whisper geometry in `audio_config`, so the model can pair any encoder with any LLM.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from transformers import AutoConfig, PreTrainedConfig, WhisperConfig

from soundwave.errors import ConfigError
from soundwave.model.spec import (
    MODES,
    PROMPT_FORMATS,
    RELEASE_CTC_WEIGHT,
    SoundwaveOptions,
    config_fields,
)
from soundwave.model.sub_configs import (
    HAS_SUB_CONFIG_SPEC,
    SubConfig,
    build_sub_configs,
    sub_config_classes,
    sub_config_specs,
)

SUB_CONFIGS = {
    "text_config": SubConfig(AutoConfig, model_type="llama"),
    "audio_config": SubConfig(WhisperConfig, optional=True),
}


class SoundwaveConfig(PreTrainedConfig, config_fields(SoundwaveOptions)):
    """Configuration of a Soundwave speech LLM: the release's keys, and the adapter's options (`SoundwaveOptions`,
    declared once in `soundwave.model.spec`, inherited here with their types and defaults).

    Args:
        text_config: the causal LM's config (dict or config object); Llama if the dict has no `model_type`.
        audio_config: the Whisper config of the audio encoder (None: derived from the weights at load time).
        adapter_size: width of the audio encoder's output (Whisper d_model), the release's name.
        audio_patch_token: id of `<audio_patch>`: the prompt placeholder and the CTC blank.
        llm_pad_token_id: the pad id (`<|eot_id|>` in the release); such keys are masked when `mask_eot_keys`.
        ctc_weight: weight of the CTC loss in the loss `forward` returns when called the release's way
            (CE + 0.3 x CTC). Training never reads it: its weights are `training.loss_weights`.
        system_prompt: the system message (None: the release's).
        window_seconds: audio window the encoder sees at once (30 s for Whisper).
        **options: the `SoundwaveOptions` (mode, adapter_*, posterior_embeds, spelling_*, mask_eot_keys,
            prompt_format).
    """

    model_type = "Soundwave"
    if HAS_SUB_CONFIG_SPEC:  # transformers 5.25; earlier 5.x (5.17): see sub_configs.py
        sub_configs_defaults = sub_config_specs(SUB_CONFIGS)
    else:
        sub_configs = sub_config_classes(SUB_CONFIGS)

    text_config: dict | PreTrainedConfig | None = None
    audio_config: dict | PreTrainedConfig | None = None
    adapter_size: int | None = None
    audio_patch_token: int | None = None
    audio_patch_size: int = 1
    audio_token_len: int = 750
    audio_tower: str | None = None
    llm_pad_token_id: int | None = None
    ctc_weight: float = RELEASE_CTC_WEIGHT
    system_prompt: str | None = None
    window_seconds: float = 30.0

    def __post_init__(self, **kwargs: Any) -> None:
        build_sub_configs(self, SUB_CONFIGS)
        super().__post_init__(**kwargs)
        if self.mode not in MODES:
            raise ConfigError(f"mode must be one of {MODES}, got {self.mode!r}")
        if self.prompt_format not in PROMPT_FORMATS:
            raise ConfigError(f"prompt_format must be one of {PROMPT_FORMATS}, got {self.prompt_format!r}")
        if self.audio_config is not None and self.adapter_size is None:
            self.adapter_size = self.audio_config.d_model

    # ---- geometry shortcuts -------------------------------------------------------------------------------
    @property
    def hidden_size(self) -> int:
        return self.text_config.hidden_size

    @property
    def vocab_size(self) -> int:
        return self.text_config.vocab_size

    @property
    def num_heads(self) -> int:
        return self.adapter_num_heads or self.text_config.num_attention_heads

    @property
    def ffn_size(self) -> int:
        return self.adapter_ffn_size or 2 * self.text_config.hidden_size

    # ---- the released flat layout ----------------------------------------------------------------------------
    @classmethod
    def from_dict(cls, config_dict: dict[str, Any], **kwargs: Any):
        """Read both layouts: flat (the release's, LLM keys at top level) and nested (`text_config`)."""
        config_dict = dict(config_dict)
        if "text_config" not in config_dict:
            config_dict = unflatten(config_dict)
        return super().from_dict(config_dict, **kwargs)

    def to_dict(self) -> dict[str, Any]:
        return flatten(super().to_dict())

    def to_diff_dict(self) -> dict[str, Any]:
        return self.to_dict()


# Our keys next to the flat LLM config in config.json: every field SoundwaveConfig adds to transformers' own.
SOUNDWAVE_KEYS = (
    *(f.name for f in dataclasses.fields(SoundwaveConfig) if f.name not in PreTrainedConfig.__dataclass_fields__),
    "text_model_type",
)


def unflatten(flat: dict[str, Any]) -> dict[str, Any]:
    """Released layout -> nested: every key that is not ours belongs to the LLM config."""
    ours = {k: v for k, v in flat.items() if k in SOUNDWAVE_KEYS}
    text = {k: v for k, v in flat.items() if k not in SOUNDWAVE_KEYS and k not in ("model_type", "architectures")}
    text["model_type"] = ours.pop("text_model_type", None) or "llama"
    for key in ("transformers_version", "_name_or_path"):
        text.pop(key, None)
    nested = dict(ours, text_config=text)
    for key in ("architectures", "transformers_version", "torch_dtype", "dtype"):
        if key in flat:
            nested[key] = flat[key]
    return nested


def flatten(nested: dict[str, Any]) -> dict[str, Any]:
    """Nested -> released layout: the LLM's keys at top level, ours beside them."""
    nested = dict(nested)
    text = dict(nested.pop("text_config") or {})
    text_model_type = text.pop("model_type", "llama")
    for key in ("transformers_version", "_name_or_path", "architectures"):
        text.pop(key, None)
    flat = dict(text)
    for key, value in nested.items():
        if key in SOUNDWAVE_KEYS or key not in flat:
            flat[key] = value
    if text_model_type != "llama":
        flat["text_model_type"] = text_model_type
    flat["model_type"] = SoundwaveConfig.model_type
    flat["architectures"] = ["SoundwaveForCausalLM"]
    return flat
