"""The model schema, declared once: the options of each adapter, and what a model is built from.

    SoundwaveOptions, SpeechLLMOptions    one frozen dataclass per adapter: each option's name, type and default
      -> ModelSpec                         what `build_model` builds (base models + LoRA + both adapters' options),
                                           saved with every compact checkpoint
      -> training.config.ModelSection      a run's `model:` section: a ModelSpec, also under the seed's key names
      -> SoundwaveConfig, SpeechLLMConfig  store their adapter's options (`config_fields`): config.json
      -> ModelSpec checks                  the options of one adapter are refused for the other (`option_names`)

An options class declares what a built model stores; `ModelSpec` leaves two Soundwave options to the builder
(None: decided from the LLM's tokenizer). Annotations here are real types, not strings (no `from __future__
import annotations`): `config_fields` copies them into classes that transformers type-checks.
"""

import dataclasses
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, get_args

from soundwave.config.loader import load_config
from soundwave.errors import ConfigError
from soundwave.model.lora import LoraSpec

log = logging.getLogger(__name__)

Mode = Literal["released", "paper"]
PromptFormat = Literal["release", "chat_template"]
Adapter = Literal["soundwave", "speechllm"]
MODES, PROMPT_FORMATS, ADAPTERS = get_args(Mode), get_args(PromptFormat), get_args(Adapter)
# options an earlier version saved in compact checkpoints, and where their role went
RETIRED_OPTIONS = {"ctc_weight": "training.loss_weights.ctc (SoundwaveConfig.ctc_weight keeps the release's 0.3)"}
RELEASE_CTC_WEIGHT = 0.3  # the release's training loss: CE + 0.3 x CTC


@dataclass(frozen=True, kw_only=True)
class SoundwaveOptions:
    """Options of the Soundwave adapter (Whisper only: CTC alignment + shrinking), as a built model stores them.

    Attributes:
        mode: "released" reproduces the release's quirks (spec section 3); "paper" follows the paper.
        adapter_num_heads: heads of the adapter attention (None: the LLM's head count).
        adapter_ffn_size: FFN width of the alignment transformer layer (None: 2 x LLM hidden size).
        adapter_num_layers: transformer layers of the alignment adapter (the paper and the release: 1); layers
            after the first start as the identity.
        adapter_temporal: whether the alignment layers attend across frames (None: the mode's; paper: yes,
            released: no, each frame alone, so CTC peaks stay where their sound is).
        adapter_dropout: dropout inside the adapters.
        posterior_embeds: ours: each CTC peak enters the LLM as the LLM embedding CTC expects there plus a gated
            look-back that starts at zero, so the LLM reads peaks as text from the start (the paper: False).
        spelling_head: ours: a character CTC head on the encoder frames (`soundwave.model.spelling`).
        spelling_dim: width of the spelling head.
        spelling_layers: transformer layers of the spelling head.
        mask_eot_keys: mask every pad/`<|eot_id|>` key (the release on CPU and in training); False is the
            release's GPU behaviour, which loses that mask.
        prompt_format: "release" builds the release's hand-made Llama-3 prompt; "chat_template" uses the
            tokenizer's chat template (for other LLMs).
    """

    mode: Mode = "released"
    adapter_num_heads: int | None = None
    adapter_ffn_size: int | None = None
    adapter_num_layers: int = 1
    adapter_temporal: bool | None = None
    adapter_dropout: float = 0.1
    posterior_embeds: bool = False
    spelling_head: bool = False
    spelling_dim: int = 256
    spelling_layers: int = 2
    mask_eot_keys: bool = True
    prompt_format: PromptFormat = "release"


@dataclass(frozen=True, kw_only=True)
class SpeechLLMOptions:
    """Options of the SpeechLLM adapter (any encoder: stack k frames + MLP projector).

    Attributes:
        downsample_factor: encoder frames stacked into one LLM token (5: 50 Hz -> 10 tokens/s).
        projector_n_layers: hidden h -> h blocks of the projector MLP.
        projector_activation: activation of the projector (a transformers activation name).
        projector_hidden_size: width h of the projector's hidden layers.
    """

    downsample_factor: int = 5
    projector_n_layers: int = 2
    projector_activation: str = "relu"
    projector_hidden_size: int = 2048


@dataclass(frozen=True, kw_only=True)
class BaseModels:
    """The pretrained parts and how they are joined (the first keys of a `model:` section).

    Attributes:
        encoder: speech encoder: a known name (hub registry) or a transformers directory.
        llm: causal LM: a known name or a transformers directory (with its tokenizer).
        adapter: "soundwave" (Whisper only: CTC alignment + shrinking) or "speechllm" (stack + MLP).
        lora: LoRA on the LLM, or None.
    """

    encoder: str
    llm: str
    adapter: Adapter = "soundwave"
    lora: LoraSpec | None = None


@dataclass(frozen=True, kw_only=True)
class ModelSpec(SpeechLLMOptions, SoundwaveOptions, BaseModels):
    """What to build: the schema of a `model:` YAML section, saved with every compact checkpoint.

    The fields are `BaseModels`', then the options of both adapters (`SoundwaveOptions`, `SpeechLLMOptions`;
    setting one of the other adapter's is an error), then the ones below.

    Attributes:
        mask_eot_keys: soundwave: as in `SoundwaveOptions`; None: True for a Llama-3-style LLM (the release).
        prompt_format: soundwave: as in `SoundwaveOptions`; None: "release" for a Llama-3-style LLM.
        system_prompt: the system message (None: the release's for soundwave, the seed's for speechllm).
    """

    mask_eot_keys: bool | None = None
    prompt_format: PromptFormat | None = None
    system_prompt: str | None = None

    def __post_init__(self) -> None:  # validate, never rewrite
        if self.adapter not in ADAPTERS:
            raise ConfigError(f"adapter must be one of {ADAPTERS}, got {self.adapter!r}")
        other = option_names(SpeechLLMOptions if self.adapter == "soundwave" else SoundwaveOptions)
        defaults = {f.name: f.default for f in dataclasses.fields(self)}
        changed = [name for name in other if getattr(self, name) != defaults[name]]
        if changed:
            raise ConfigError(f"option(s) {changed} do not apply to the {self.adapter} adapter; remove them")


def option_names(options: type) -> tuple[str, ...]:
    """The option names an options class declares, in order."""
    return tuple(f.name for f in dataclasses.fields(options))


def config_fields(options: type) -> type:
    """A plain (mutable) dataclass with the fields of the frozen `options`, for a transformers config to inherit.

    A transformers config is a mutable dataclass, and a mutable dataclass may not inherit a frozen one; the
    config inherits this copy, so it stores each option under its name, type and default.
    """
    fields = [(f.name, f.type, dataclasses.field(default=f.default)) for f in dataclasses.fields(options)]
    return dataclasses.make_dataclass(f"{options.__name__}Fields", fields, kw_only=True)


def drop_retired_options(section: Mapping) -> dict:
    """A saved `model:` section without the options that left the schema (`RETIRED_OPTIONS`).

    `ctc_weight` was saved by every compact checkpoint as the release's 0.3; it only set the built config's
    `ctc_weight`, which keeps that value. Another value is dropped with a warning naming its new home.
    """
    section = dict(section)
    for name, new_home in RETIRED_OPTIONS.items():
        value = section.pop(name, None)
        if name == "ctc_weight" and value not in (None, RELEASE_CTC_WEIGHT):
            log.warning("model.%s=%s is no longer a model option: it lives in %s", name, value, new_home)
    return section


def load_model_spec(
    source: ModelSpec | Mapping | str | Path, overrides: Sequence[str] = (), section: str | None = None
) -> ModelSpec:
    """A ModelSpec from a YAML file or a mapping (strict: unknown keys and wrong types raise ConfigError).

    Args:
        source: a ModelSpec (returned as is when there are no overrides), a mapping (e.g. a compact checkpoint's
            `model:`; retired options are dropped, `drop_retired_options`) or a YAML path.
        overrides: dotted `key=value` overrides, e.g. `["lora.r=16"]`.
        section: read this top-level key of the YAML (e.g. "model" of a whole run config).
    """
    if isinstance(source, ModelSpec):
        if not overrides:
            return source
        source = dataclasses.asdict(source)
    if isinstance(source, Mapping) and section is None:
        source = drop_retired_options(source)
    return load_config(ModelSpec, source, overrides, section=section)
