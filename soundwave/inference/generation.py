"""A model's own decoding defaults: its folder's `generation.yaml` (as transformers' `generation_config.json`).

    repetition_penalty: 1.2          # any option of soundwave.options.GenerationConfig: every request
    transcribe:                      # on top of those, for transcripts (`Pipeline.transcribe`)
      num_beams: 8
      ctc_weight: 0.25

A folder without the file decodes with the release's defaults; its transcripts are those defaults, greedy.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import yaml

from soundwave.errors import ConfigError
from soundwave.options import GenerationConfig

DEFAULTS_FILE = "generation.yaml"
TRANSCRIBE_SECTION = "transcribe"


@dataclass(frozen=True)
class ModelDecoding:
    """What a model decodes with unless a request says otherwise: `generation` for any prompt, `transcription`
    for transcripts (greedy unless the model's file says otherwise)."""

    generation: GenerationConfig = field(default_factory=GenerationConfig)
    transcription: GenerationConfig = field(default_factory=lambda: GenerationConfig(do_sample=False))

    @classmethod
    def from_mapping(cls, values: dict, source: str = "generation options") -> ModelDecoding:
        """Build from a `generation.yaml` mapping. Raises ConfigError naming `source` and the bad key."""
        if not isinstance(values, dict):
            raise ConfigError(f"{source}: expected a mapping of generation options, got {type(values).__name__}")
        values = dict(values)
        transcribe = values.pop(TRANSCRIBE_SECTION, None) or {}
        if not isinstance(transcribe, dict):
            raise ConfigError(f"{source}: {TRANSCRIBE_SECTION}: expected a mapping, got {type(transcribe).__name__}")
        try:
            generation = GenerationConfig().with_overrides(**values)
            transcription = generation.with_overrides(do_sample=False).with_overrides(**transcribe)
        except (ConfigError, TypeError) as err:
            raise ConfigError(f"{source}: {err}") from err
        return cls(generation, transcription)

    def to_mapping(self) -> dict:
        """The `generation.yaml` mapping: what differs from the release's defaults (and, for transcripts, from
        `generation` made greedy)."""
        base, greedy = GenerationConfig(), self.generation.with_overrides(do_sample=False)
        values = _differences(self.generation, base)
        transcribe = _differences(self.transcription, greedy)
        return values | ({TRANSCRIBE_SECTION: transcribe} if transcribe else {})


def _differences(config: GenerationConfig, base: GenerationConfig) -> dict:
    out = {}
    for name, value in vars(config).items():
        if value != getattr(base, name):
            out[name] = list(value) if isinstance(value, tuple) else value
    return out


def model_decoding(directory: str | Path) -> ModelDecoding:
    """The decoding defaults a model folder ships in `generation.yaml`; none: the release's.

    Raises:
        ConfigError: the file is not valid YAML or not a mapping of options with valid values (named).
    """
    path = Path(directory) / DEFAULTS_FILE
    if not path.is_file():
        return ModelDecoding()
    try:
        values = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as err:
        raise ConfigError(f"{path}: not valid YAML ({err})") from err
    return ModelDecoding.from_mapping(values, source=str(path))
