"""`EvalConfig`: one evaluation run as a frozen dataclass, read from a small YAML file (configs/eval/*.yaml).

Unknown keys and wrong types are errors naming the key; relative paths are taken from the current directory
(run from the repository root), as the CLI flags are.
"""

from __future__ import annotations

import dataclasses
import os
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import yaml

from soundwave.errors import ConfigError
from soundwave.eval.scoring import ALL_TASKS
from soundwave.options import OPTION_NAMES, GenerationConfig


@dataclass(frozen=True)
class EvalConfig:
    """What `soundwave eval` runs. Field names match the CLI flags (`batch_size` <-> `--batch-size`)."""

    model: str | None = None  # a model name the hub resolves ("whisper-tiny.en") or a local folder
    data: str | None = None  # the manifest (.jsonl)
    task: Literal["asr", "st", "qa", "cls", "align"] = "asr"
    output: str | None = None  # report folder; None: runs/eval/<model>/<manifest>-<task>
    limit: int | None = None  # evaluate only the first N usable lines
    batch_size: int = 8
    baseline: Literal["whisper"] | None = None  # evaluate plain Whisper decoding instead of a Pipeline
    language: str | None = "en"  # reference language: normalizer, BLEU tokenizer, Whisper language
    device: str | None = None  # "cpu", "cuda", ...; None: the loader's default
    dtype: str | None = None  # "float32", "bfloat16", "float16"; None: the loader's default
    quantize: str | None = None  # Pipeline only: "int8", "nf4"; None: full precision
    compile: bool = False  # Pipeline only: static KV cache + compiled decode step
    # decoding options (soundwave.options, one key each: num_beams, ctc_weight, ...); None: the model's own. Tasks
    # other than asr decode greedily unless `do_sample: true`; asr decodes as `soundwave transcribe` does.
    generation: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    group_by: str | None = None  # also score each value of this manifest field apart ("voice", "speaker", ...)
    # task align: time the manifest's transcript ("reference") or the model's own transcript ("transcript")
    align_source: Literal["reference", "transcript"] = "reference"

    def __post_init__(self) -> None:  # validate, never rewrite
        if self.task not in ALL_TASKS:
            raise ConfigError(f"task: expected one of {', '.join(ALL_TASKS)}, got {self.task!r}")
        if self.baseline not in (None, "whisper"):
            raise ConfigError(f"baseline: the only baseline is 'whisper', got {self.baseline!r}")
        if self.limit is not None and self.limit < 1:
            raise ConfigError(f"limit: expected a positive integer, got {self.limit}")
        if self.batch_size < 1:
            raise ConfigError(f"batch_size: expected a positive integer, got {self.batch_size}")
        try:
            GenerationConfig().with_overrides(**dict(self.generation))  # ranges: checked where they are declared
        except ConfigError as err:
            raise ConfigError(str(err)) from None

    def require_inputs(self) -> None:
        """Raise ConfigError unless `model` and `data` are set (they have no sensible default)."""
        missing = [name for name in ("model", "data") if getattr(self, name) is None]
        if missing:
            raise ConfigError(f"missing {' and '.join(missing)}: give --model/--data or set them in the config")


def _check_type(key: str, value: Any, annotation: Any) -> None:
    """Raise ConfigError unless `value` fits `annotation` (str, int, bool, Literal, X | None)."""
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        errors = []
        for option in typing.get_args(annotation):
            try:
                return _check_type(key, value, option)
            except ConfigError as err:
                errors.append(str(err))
        raise ConfigError(" or ".join(errors) if value is not None else f"{key}: may not be null")
    if annotation is type(None):
        if value is not None:
            raise ConfigError(f"{key}: expected null, got {value!r}")
        return
    if origin is Literal:
        if value not in typing.get_args(annotation):
            raise ConfigError(f"{key}: expected one of {typing.get_args(annotation)}, got {value!r}")
        return
    if annotation is float and isinstance(value, int) and not isinstance(value, bool):
        return  # YAML `repetition_penalty: 1` is a number too
    # bool is a subclass of int: `limit: true` must not pass as 1
    if not isinstance(value, annotation) or (annotation is int and isinstance(value, bool)):
        raise ConfigError(f"{key}: expected {annotation.__name__}, got {value!r}")


def build_eval_config(values: Mapping[str, Any], source: str = "config") -> EvalConfig:
    """Check keys and types of a mapping and build an EvalConfig.

    Raises:
        ConfigError: an unknown key (with the valid ones listed) or a value of the wrong type.
    """
    hints = typing.get_type_hints(EvalConfig)
    names = [f.name for f in dataclasses.fields(EvalConfig) if f.name != "generation"]
    decoding = {"greedy", *OPTION_NAMES}
    unknown = sorted(set(values) - set(names) - decoding)
    if unknown:
        raise ConfigError(
            f"{source}: unknown key(s) {unknown}; valid keys: {', '.join(names)}, and decoding options "
            f"{', '.join(OPTION_NAMES)}"
        )
    generation = {k: v for k, v in values.items() if k in OPTION_NAMES}
    try:
        for key, value in values.items():
            if key == "greedy":
                _check_type(key, value, bool)
                generation["do_sample"] = not value
            elif key in names:
                _check_type(key, value, hints[key])
        # decoding options: typed and range-checked by their declaration (EvalConfig.__post_init__)
        return EvalConfig(**{k: v for k, v in values.items() if k in names}, generation=generation)
    except ConfigError as err:
        raise ConfigError(f"{source}: {err}") from None


def load_eval_config(path: str | os.PathLike, overrides: Mapping[str, Any] | None = None) -> EvalConfig:
    """Read an eval YAML file, then apply `overrides` (e.g. CLI flags that were given; None values ignored).

    Raises:
        ConfigError: the file is missing or not a YAML mapping, or has unknown keys / wrong types.
    """
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{path}: no such eval config file")
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as err:
        raise ConfigError(f"{path}: not valid YAML ({err})") from err
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: expected a mapping of keys to values, got {type(raw).__name__}")
    raw.update({k: v for k, v in (overrides or {}).items() if v is not None})
    return build_eval_config(raw, source=str(path))
