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
from soundwave.eval.scoring import TASKS


@dataclass(frozen=True)
class EvalConfig:
    """What `soundwave eval` runs. Field names match the CLI flags (`batch_size` <-> `--batch-size`)."""

    model: str | None = None  # a model name the hub resolves ("whisper-tiny.en") or a local folder
    data: str | None = None  # the manifest (.jsonl)
    task: Literal["asr", "st", "qa", "cls"] = "asr"
    output: str | None = None  # report folder; None: runs/eval/<model>/<manifest>-<task>
    limit: int | None = None  # evaluate only the first N usable lines
    batch_size: int = 8
    baseline: Literal["whisper"] | None = None  # evaluate plain Whisper decoding instead of a Pipeline
    language: str | None = "en"  # reference language: normalizer, BLEU tokenizer, Whisper language
    device: str | None = None  # "cpu", "cuda", ...; None: the loader's default
    dtype: str | None = None  # "float32", "bfloat16", "float16"; None: the loader's default
    quantize: str | None = None  # Pipeline only: "int8", "nf4"; None: full precision
    greedy: bool = True  # pass do_sample=False: scores must not depend on sampling (the release samples)
    max_new_tokens: int | None = None  # None: the model's default
    repetition_penalty: float | None = None  # Pipeline only; None: the model's default (1.0, no penalty)
    ctc_weight: float | None = None  # Pipeline only: joint CTC / LLM decoding (Soundwave models, transcripts)
    num_beams: int | None = None  # Pipeline only; None: the model's default (1)
    ctc_blank_penalty: float | None = None  # Pipeline only, with ctc_weight: off CTC's blank log-prob (default 0)
    ctc_length_bonus: float | None = None  # Pipeline only, with ctc_weight: per-token bonus (default 0)
    spelling_weight: float | None = None  # Pipeline only: the spelling CTC's joint-decoding weight (default 0)
    lexicon_penalty: float | None = None  # Pipeline only, with spelling_weight: per spelled non-word (default 0)
    word_repair: float | None = None  # Pipeline only: repair non-words after decoding, the text LM's weight (0 off)
    word_repair_speech: float | None = None  # Pipeline only: word repair's weight of the speech LLM (0 off)
    repair_nbest: int | None = None  # Pipeline only, with beams and word repair: beams repaired, best kept (1)
    repair_pool: int | None = None  # Pipeline only, word repair: nearby words shortlisted by the spelling CTC (0)
    group_by: str | None = None  # also score each value of this manifest field apart ("voice", "speaker", ...)

    def __post_init__(self) -> None:  # validate, never rewrite
        if self.task not in TASKS:
            raise ConfigError(f"task: expected one of {', '.join(TASKS)}, got {self.task!r}")
        if self.baseline not in (None, "whisper"):
            raise ConfigError(f"baseline: the only baseline is 'whisper', got {self.baseline!r}")
        if self.limit is not None and self.limit < 1:
            raise ConfigError(f"limit: expected a positive integer, got {self.limit}")
        if self.batch_size < 1:
            raise ConfigError(f"batch_size: expected a positive integer, got {self.batch_size}")
        if self.max_new_tokens is not None and self.max_new_tokens < 1:
            raise ConfigError(f"max_new_tokens: expected a positive integer, got {self.max_new_tokens}")
        if self.repetition_penalty is not None and self.repetition_penalty <= 0:
            raise ConfigError(f"repetition_penalty: expected a positive number, got {self.repetition_penalty}")
        if self.ctc_weight is not None and not 0 <= self.ctc_weight <= 1:
            raise ConfigError(f"ctc_weight: expected a number in [0, 1], got {self.ctc_weight}")
        if self.spelling_weight is not None and not 0 <= self.spelling_weight <= 1:
            raise ConfigError(f"spelling_weight: expected a number in [0, 1], got {self.spelling_weight}")
        if self.word_repair is not None and self.word_repair < 0:
            raise ConfigError(f"word_repair: expected a number >= 0, got {self.word_repair}")
        if self.repair_pool is not None and self.repair_pool < 0:
            raise ConfigError(f"repair_pool: expected an integer >= 0, got {self.repair_pool}")
        if self.repair_nbest is not None and self.repair_nbest < 1:
            raise ConfigError(f"repair_nbest: expected a positive integer, got {self.repair_nbest}")
        if self.word_repair_speech is not None and self.word_repair_speech < 0:
            raise ConfigError(f"word_repair_speech: expected a number >= 0, got {self.word_repair_speech}")
        if self.ctc_blank_penalty is not None and self.ctc_blank_penalty < 0:
            raise ConfigError(f"ctc_blank_penalty: expected a number >= 0, got {self.ctc_blank_penalty}")
        if self.num_beams is not None and self.num_beams < 1:
            raise ConfigError(f"num_beams: expected a positive integer, got {self.num_beams}")

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
    names = [f.name for f in dataclasses.fields(EvalConfig)]
    unknown = sorted(set(values) - set(names))
    if unknown:
        raise ConfigError(f"{source}: unknown key(s) {unknown}; valid keys: {', '.join(names)}")
    for key, value in values.items():
        try:
            _check_type(key, value, hints[key])
        except ConfigError as err:
            raise ConfigError(f"{source}: {err}") from None
    return EvalConfig(**values)


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
