"""Sub-configs (`text_config`, `audio_config`, ...) of our composite configs, on every transformers 5.x.

transformers 5.25 (what this project is developed with) declares them with `SubConfigSpec` (`sub_configs_defaults`)
and builds them itself; earlier 5.x releases, 5.17 for one, only know the `sub_configs` class map and leave dicts
to the config's `__post_init__`. `SubConfig` states one of ours once; `sub_config_specs` / `sub_config_classes`
declare them the way the installed transformers expects, and `build_sub_configs` does what `SubConfigSpec` would
where transformers does not:

    SUBS = {"text_config": SubConfig(AutoConfig, model_type="llama")}

    class MyConfig(PreTrainedConfig):
        if HAS_SUB_CONFIG_SPEC:
            sub_configs_defaults = sub_config_specs(SUBS)
        else:
            sub_configs = sub_config_classes(SUBS)

        def __post_init__(self, **kwargs):
            build_sub_configs(self, SUBS)
            super().__post_init__(**kwargs)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from transformers import AutoConfig, PreTrainedConfig

try:  # transformers 5.25
    from transformers.configuration_utils import SubConfigSpec
except ImportError:  # earlier 5.x (5.17): `sub_configs` + dicts built in __post_init__
    SubConfigSpec = None

HAS_SUB_CONFIG_SPEC = SubConfigSpec is not None


@dataclass(frozen=True)
class SubConfig:
    """One sub-config field.

    Attributes:
        config_class: its config class, or `AutoConfig` to pick it by `model_type`.
        model_type: the model type when a dict gives none (needed with `AutoConfig`).
        optional: None stays None (otherwise None becomes the default config).
    """

    config_class: type
    model_type: str | None = None
    optional: bool = False


def sub_config_specs(subs: dict[str, SubConfig]) -> dict[str, Any]:
    """`sub_configs_defaults`, where transformers has `SubConfigSpec`."""
    return {
        key: SubConfigSpec(config_class=sub.config_class, model_type=sub.model_type, optional=sub.optional)
        for key, sub in subs.items()
    }


def sub_config_classes(subs: dict[str, SubConfig]) -> dict[str, type]:
    """`sub_configs`, where it has not."""
    return {key: sub.config_class for key, sub in subs.items()}


def build_sub_configs(config: PreTrainedConfig, subs: dict[str, SubConfig]) -> None:
    """Turn dict (or None) sub-configs of `config` into config objects, as `SubConfigSpec` does.

    A no-op where transformers builds them itself. Call it at the start of the config's `__post_init__`.
    """
    if HAS_SUB_CONFIG_SPEC:
        return
    from transformers.models.auto.configuration_auto import CONFIG_MAPPING

    for key, sub in subs.items():
        value = getattr(config, key, None)
        if value is None:
            if sub.optional:
                continue
            value = {}
        if isinstance(value, dict):
            value = dict(value)
            model_type = value.pop("model_type", None) or sub.model_type
            config_class = CONFIG_MAPPING[model_type] if sub.config_class is AutoConfig else sub.config_class
            value = config_class(**value)
        setattr(config, key, value)
