"""Typed configs: frozen dataclasses are the schema, YAML files are instances (see `loader`)."""

from soundwave.config.loader import (
    apply_overrides,
    build_config,
    config_to_dict,
    dump_config,
    load_config,
    save_config,
)

__all__ = ["apply_overrides", "build_config", "config_to_dict", "dump_config", "load_config", "save_config"]
