"""Pretrained base models offline: converters from pip-shipped formats and a registry of known names.

    >>> from soundwave.hub import list_models, prepare_model, resolve_model_path
    >>> path = prepare_model("whisper-tiny.en")  # converts once; later calls return at once
    >>> resolve_model_path("smollm2-135m-instruct")  # '~/.cache/soundwave/models/smollm2-135m-instruct'

Read in this order: `registry` (names, packages, cache), `prepare` (atomic build), `packages` (RECORD
hash checks), `ctranslate2` (model.bin reader), `whisper_ct2` and `gguf_llm` (converters).
"""

from soundwave.hub.ctranslate2 import Ct2Model, read_ct2_model
from soundwave.hub.gguf_llm import convert_gguf_llm
from soundwave.hub.prepare import prepare_model, resolve_model_path, verify_folder
from soundwave.hub.registry import MODELS, ModelInfo, ModelSpec, cache_dir, list_models
from soundwave.hub.whisper_ct2 import convert_ct2_whisper

__all__ = [
    "MODELS",
    "Ct2Model",
    "ModelInfo",
    "ModelSpec",
    "cache_dir",
    "convert_ct2_whisper",
    "convert_gguf_llm",
    "list_models",
    "prepare_model",
    "read_ct2_model",
    "resolve_model_path",
    "verify_folder",
]
