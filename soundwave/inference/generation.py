"""Generation settings: the release's defaults in one frozen dataclass, overridden per call."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

import yaml

from soundwave.errors import ConfigError

DEFAULTS_FILE = "generation.yaml"  # a model folder's own decoding defaults (as transformers' generation_config.json)


@dataclass(frozen=True)
class GenerationConfig:
    """How to decode. Defaults are the release's (`run_inference.py`): sampling, temperature 0.2, top_p 0.9."""

    max_new_tokens: int = 512
    do_sample: bool = True
    temperature: float = 0.2
    top_p: float = 0.9
    top_k: int | None = None
    repetition_penalty: float = 1.0
    stop: tuple[str, ...] = ()  # stop strings, on top of the end-of-turn token
    seed: int | None = None  # seeds sampling, for reproducible answers
    num_beams: int = 1
    ctc_weight: float = 0.0  # joint CTC / LLM decoding for transcripts (Soundwave models; 0: off, ctc_prefix.py)
    ctc_candidates: int = 8  # LLM top-k tokens CTC scores per step (the greedy CTC tokens are always scored)
    ctc_blank_penalty: float = 0.0  # taken off CTC's blank log-prob in joint decoding (> 0: fewer deletions)
    ctc_length_bonus: float = 0.0  # added per token in joint decoding (> 0: longer answers)
    spelling_weight: float = 0.0  # the spelling CTC's weight in joint decoding (models with a spelling head)
    lexicon_penalty: float = 0.0  # with spelling_weight: off a hypothesis's spelling score per non-word it spells
    word_repair: float = 0.0  # > 0: after decoding, repair non-words (word_repair.py); the text LM's weight
    word_repair_speech: float = 0.0  # > 0: repair too, with the speech LLM's log P(sentence | audio) at this weight
    repair_nbest: int = 1  # with beams and word repair: the best beams repaired; the best-scoring repair wins
    repair_pool: int = 0  # word repair: nearby words found per word, shortlisted to 8 by the spelling CTC (0: 8)

    def __post_init__(self) -> None:
        if self.max_new_tokens < 1:
            raise ValueError(f"max_new_tokens must be >= 1, got {self.max_new_tokens}")
        if self.do_sample and self.temperature <= 0:
            raise ValueError(f"temperature must be > 0 when sampling, got {self.temperature} (use greedy instead)")
        if not 0 < self.top_p <= 1:
            raise ValueError(f"top_p must be in (0, 1], got {self.top_p}")
        if self.repetition_penalty <= 0:
            raise ValueError(f"repetition_penalty must be > 0, got {self.repetition_penalty}")
        if self.num_beams < 1:
            raise ValueError(f"num_beams must be >= 1, got {self.num_beams}")
        if not 0 <= self.ctc_weight <= 1:
            raise ValueError(f"ctc_weight must be in [0, 1], got {self.ctc_weight}")
        if self.ctc_candidates < 1:
            raise ValueError(f"ctc_candidates must be >= 1, got {self.ctc_candidates}")
        if not 0 <= self.spelling_weight <= 1 or self.ctc_weight + self.spelling_weight > 1:
            raise ValueError(
                f"spelling_weight must be in [0, 1 - ctc_weight], got {self.spelling_weight} "
                f"(ctc_weight {self.ctc_weight})"
            )
        if self.word_repair < 0:
            raise ValueError(f"word_repair must be >= 0 (0: off), got {self.word_repair}")
        if self.repair_pool < 0:
            raise ValueError(f"repair_pool must be >= 0 (0: off), got {self.repair_pool}")
        if self.repair_nbest < 1:
            raise ValueError(f"repair_nbest must be >= 1, got {self.repair_nbest}")
        if self.word_repair_speech < 0:
            raise ValueError(f"word_repair_speech must be >= 0 (0: off), got {self.word_repair_speech}")
        if self.ctc_blank_penalty < 0:
            raise ValueError(f"ctc_blank_penalty must be >= 0, got {self.ctc_blank_penalty}")

    def with_overrides(self, **overrides) -> GenerationConfig:
        """A copy with `overrides`; `greedy=True` is shorthand for `do_sample=False`."""
        if overrides.pop("greedy", False):
            overrides["do_sample"] = False
        if isinstance(overrides.get("stop"), str):
            overrides["stop"] = (overrides["stop"],)
        unknown = set(overrides) - {f.name for f in dataclasses.fields(self)}
        if unknown:
            raise ConfigError(f"unknown generation option(s) {sorted(unknown)}")
        try:
            return dataclasses.replace(self, **{k: v for k, v in overrides.items() if v is not None})
        except ValueError as err:  # an out-of-range value: a user's error, named (ConfigError is a ValueError)
            raise ConfigError(f"generation option: {err}") from err

    def to_generate_kwargs(self, eos_token_id, tokenizer=None) -> dict:
        """Keyword arguments for transformers' `generate`."""
        kwargs = {
            "max_new_tokens": self.max_new_tokens,
            "do_sample": self.do_sample,
            "repetition_penalty": self.repetition_penalty,
            "eos_token_id": eos_token_id,
        }
        if self.num_beams > 1:
            kwargs["num_beams"] = self.num_beams
        if self.do_sample:
            kwargs.update(temperature=self.temperature, top_p=self.top_p)
            if self.top_k is not None:
                kwargs["top_k"] = self.top_k
        if self.stop:
            kwargs.update(stop_strings=list(self.stop), tokenizer=tokenizer)
        return kwargs


def model_generation_defaults(directory: str | Path) -> GenerationConfig:
    """The decoding defaults a model folder ships in `generation.yaml`, over the release's; none: the release's.

    Raises:
        ConfigError: the file is not a mapping of GenerationConfig fields with valid values (named in the message).
    """
    path = Path(directory) / DEFAULTS_FILE
    if not path.is_file():
        return GenerationConfig()
    try:
        values = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as err:
        raise ConfigError(f"{path}: not valid YAML ({err})") from err
    if not isinstance(values, dict):
        raise ConfigError(f"{path}: expected a mapping of generation options, got {type(values).__name__}")
    if isinstance(values.get("stop"), list):
        values["stop"] = tuple(values["stop"])
    try:
        return GenerationConfig().with_overrides(**values)
    except (ConfigError, ValueError, TypeError) as err:
        raise ConfigError(f"{path}: {err}") from err
