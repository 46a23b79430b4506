"""`build_model`: pretrained encoder + pretrained LLM + a new adapter, ready to train. The only config -> module step.

    model, tokenizer, feature_extractor = build_model(encoder="whisper-tiny.en", llm="smollm2-135m-instruct")
    model, tokenizer, feature_extractor = build_model("models/wavlm-large", "models/Llama-3.2-1B", adapter="speechllm")
    model, tokenizer, feature_extractor = build_from_spec("configs/model.yaml", ["lora.r=16"])

Both adapters: the LLM's tokenizer gains the audio placeholder (one embedding row added when it is new), a pad id
that is not a content token, and the end-of-turn ids as eos. Soundwave: the CTC head starts as a copy of the
LLM's input embedding matrix (new blank row included) and is frozen; the alignment projection is xavier-initialised.
Names of base models go through the hub registry (`soundwave.hub.resolve_model_path`) when it is there.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import torch
from tokenizers import AddedToken
from torch import nn
from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer, PreTrainedModel

from soundwave.errors import ConfigError
from soundwave.model.align_adapter import reachable_blank_row
from soundwave.model.configuration import SoundwaveConfig
from soundwave.model.loading import resolve_checkpoint_dir
from soundwave.model.lora import LoraSpec, apply_lora, is_lora_parameter
from soundwave.model.soundwave import SoundwaveForCausalLM
from soundwave.model.speech_encoder import (
    input_kind_of,
    load_feature_extractor_for,
    load_speech_encoder,
    load_whisper_encoder,
)
from soundwave.model.speechllm import SEED_SYSTEM_PROMPT, SpeechLLM, SpeechLLMConfig, SpeechLLMParts
from soundwave.prompts import AUDIO_PATCH, END_HEADER, EOT, START_HEADER

log = logging.getLogger(__name__)

# pad candidates after the tokenizer's own, in order; a pad must never be an eos, the bos or the placeholder
PAD_CANDIDATES = ("<|finetune_right_pad_id|>", "<|end_of_text|>", "<|endoftext|>", "<pad>")
SOUNDWAVE_ONLY = (
    "adapter_num_heads",
    "adapter_ffn_size",
    "adapter_num_layers",
    "adapter_temporal",
    "adapter_dropout",
    "posterior_embeds",
    "spelling_head",
    "spelling_dim",
    "spelling_layers",
    "ctc_weight",
    "mask_eot_keys",
    "prompt_format",
)
BASE_PREFIXES = ("llm.", "audio_encoder.", "encoder.")  # parameter names of the pretrained parts
SPEECHLLM_ONLY = ("downsample_factor", "projector_n_layers", "projector_activation", "projector_hidden_size")


@dataclass(frozen=True)
class ModelSpec:
    """What to build: the schema of a `model:` YAML section, saved with every compact checkpoint.

    Attributes:
        encoder: speech encoder: a known name (hub registry) or a transformers directory.
        llm: causal LM: a known name or a transformers directory (with its tokenizer).
        adapter: "soundwave" (Whisper only: CTC alignment + shrinking) or "speechllm" (stack + MLP).
        mode: soundwave only: "released" reproduces the release's quirks, "paper" follows the paper.
        lora: LoRA on the LLM, or None.
        adapter_num_heads: soundwave: adapter attention heads (None: the LLM's).
        adapter_ffn_size: soundwave: FFN width of the alignment transformer layer (None: 2 x LLM hidden).
        adapter_num_layers: soundwave: transformer layers of the alignment adapter (the paper: 1); layers after
            the first start as the identity.
        adapter_temporal: soundwave: alignment layers attend across frames (None: the mode's, paper: yes; False:
            each frame alone, as the release computes, so CTC peaks stay where their sound is).
        adapter_dropout: soundwave: dropout inside the adapters.
        posterior_embeds: soundwave, ours: a CTC peak enters the LLM as the LLM embedding CTC expects there plus
            a gated look-back starting at zero, so the LLM reads peaks as text from the start (the paper: False).
        ctc_weight: soundwave: weight of the CTC loss in the release's training loss.
        mask_eot_keys: soundwave: mask every pad/`<|eot_id|>` key (None: True for a Llama-3-style LLM, the release).
        prompt_format: soundwave: "release" or "chat_template" (None: "release" for a Llama-3-style LLM).
        system_prompt: the system message (None: the release's for soundwave, the seed's for speechllm).
        downsample_factor: speechllm: encoder frames stacked per LLM token.
        projector_n_layers: speechllm: hidden blocks of the projector.
        projector_activation: speechllm: projector activation.
        projector_hidden_size: speechllm: projector width.
    """

    encoder: str
    llm: str
    adapter: Literal["soundwave", "speechllm"] = "soundwave"
    mode: Literal["released", "paper"] = "released"
    lora: LoraSpec | None = None
    adapter_num_heads: int | None = None
    adapter_ffn_size: int | None = None
    adapter_num_layers: int = 1
    adapter_temporal: bool | None = None
    adapter_dropout: float = 0.1
    posterior_embeds: bool = False
    spelling_head: bool = False
    spelling_dim: int = 256
    spelling_layers: int = 2
    ctc_weight: float = 0.3
    mask_eot_keys: bool | None = None
    prompt_format: Literal["release", "chat_template"] | None = None
    system_prompt: str | None = None
    downsample_factor: int = 5
    projector_n_layers: int = 2
    projector_activation: str = "relu"
    projector_hidden_size: int = 2048

    def __post_init__(self) -> None:  # validate, never rewrite
        if self.adapter not in ("soundwave", "speechllm"):
            raise ConfigError(f"adapter must be 'soundwave' or 'speechllm', got {self.adapter!r}")
        other = SPEECHLLM_ONLY if self.adapter == "soundwave" else (*SOUNDWAVE_ONLY, "mode")
        defaults = {f.name: f.default for f in dataclasses.fields(self)}
        changed = [name for name in other if getattr(self, name) != defaults[name]]
        if changed:
            raise ConfigError(f"option(s) {changed} do not apply to the {self.adapter} adapter; remove them")


def load_model_spec(
    source: ModelSpec | Mapping | str | Path, overrides: Sequence[str] = (), section: str | None = None
) -> ModelSpec:
    """A ModelSpec from a YAML file or a mapping (strict: unknown keys and wrong types raise ConfigError).

    Args:
        source: a ModelSpec (returned as is when there are no overrides), a mapping or a YAML path.
        overrides: dotted `key=value` overrides, e.g. `["lora.r=16"]`.
        section: read this top-level key of the YAML (e.g. "model" of a whole run config).
    """
    from soundwave.config.loader import load_config

    if isinstance(source, ModelSpec):
        if not overrides:
            return source
        source = dataclasses.asdict(source)
    return load_config(ModelSpec, source, overrides, section=section)


def build_model(
    encoder: str,
    llm: str,
    adapter: Literal["soundwave", "speechllm"] = "soundwave",
    mode: Literal["released", "paper"] = "released",
    lora: LoraSpec | None = None,
    dtype: torch.dtype = torch.float32,
    **options,
):
    """Build a model from a pretrained encoder and LLM; `options` are the other `ModelSpec` fields.

    Returns:
        (model, tokenizer, feature_extractor); the model is in eval mode, on the CPU, in `dtype`. The encoder,
        the LLM and the CTC head are frozen; the adapters (and LoRA) are trainable (`set_trainable` changes it).

    Raises:
        ConfigError: an unknown option, or an option of the other adapter.
    """
    try:
        spec = ModelSpec(encoder=encoder, llm=llm, adapter=adapter, mode=mode, lora=lora, **options)
    except TypeError as err:
        names = [f.name for f in dataclasses.fields(ModelSpec)]
        raise ConfigError(f"build_model: {err}; valid options: {names}") from None
    return build_from_spec(spec, dtype=dtype)


def build_from_spec(
    spec: ModelSpec | Mapping | str | Path, overrides: Sequence[str] = (), dtype: torch.dtype = torch.float32
):
    """`build_model` from a ModelSpec, a mapping or a YAML file. Returns (model, tokenizer, feature_extractor)."""
    spec = load_model_spec(spec, overrides)
    if spec.adapter == "soundwave":
        model, tokenizer, feature_extractor = build_soundwave(spec, dtype)
    else:
        model, tokenizer, feature_extractor = build_speechllm(spec, dtype)
    if spec.lora is not None:
        model.llm = apply_lora(model.llm, spec.lora)
    freeze_base(model)
    return model.eval(), tokenizer, feature_extractor


def freeze_base(model: nn.Module) -> None:
    """Freeze the encoder and the LLM (LoRA weights excepted) and Soundwave's CTC head; the adapters train."""
    for name, param in model.named_parameters():
        param.requires_grad_(not name.startswith(BASE_PREFIXES) or is_lora_parameter(name))
    if isinstance(model, SoundwaveForCausalLM):
        model.align_adapter.ctc_head.weight.requires_grad_(False)


# ---- the two adapters -----------------------------------------------------------------------------------------
def build_soundwave(spec: ModelSpec, dtype: torch.dtype = torch.float32):
    """Whisper encoder + LLM + Soundwave adapters (no LoRA). Returns (model, tokenizer, feature_extractor)."""
    encoder_dir = resolve_base(spec.encoder)
    encoder_config = AutoConfig.from_pretrained(encoder_dir)
    if input_kind_of(encoder_config) != "mel":
        raise ConfigError(
            f"the soundwave adapter needs a Whisper encoder; {spec.encoder} is a {encoder_config.model_type} "
            "(use adapter: speechllm for it)"
        )
    audio_encoder = load_whisper_encoder(encoder_dir, dtype)
    llm, tokenizer, placeholder_id = load_llm(spec.llm, AUDIO_PATCH, dtype)
    llama3 = is_llama3_style(tokenizer)
    prompt_format = spec.prompt_format or ("release" if llama3 else "chat_template")
    check_prompt_format(prompt_format, tokenizer, spec.llm)
    pad_id = set_pad_and_eos(tokenizer, llm, placeholder_id, release=prompt_format == "release")
    config = SoundwaveConfig(
        text_config=llm.config,
        audio_config=audio_encoder.whisper.config,
        audio_patch_token=placeholder_id,
        audio_tower=spec.encoder,
        llm_pad_token_id=pad_id,
        mode=spec.mode,
        mask_eot_keys=llama3 if spec.mask_eot_keys is None else spec.mask_eot_keys,
        ctc_weight=spec.ctc_weight,
        adapter_num_heads=spec.adapter_num_heads,
        adapter_ffn_size=spec.adapter_ffn_size,
        adapter_num_layers=spec.adapter_num_layers,
        adapter_temporal=spec.adapter_temporal,
        adapter_dropout=spec.adapter_dropout,
        posterior_embeds=spec.posterior_embeds,
        spelling_head=spec.spelling_head,
        spelling_dim=spec.spelling_dim,
        spelling_layers=spec.spelling_layers,
        prompt_format=prompt_format,
        system_prompt=spec.system_prompt,
    )
    with torch.device("meta"):  # the LLM and encoder are swapped in below: never allocate random copies
        model = SoundwaveForCausalLM(config)
    model.llm, model.audio_encoder = llm, audio_encoder
    for adapter in (model.align_adapter, model.shrink_adapter, model.spelling_head):
        if adapter is not None:
            reset_module(adapter.to_empty(device="cpu"))
    init_soundwave_adapters(model)
    return model.to(dtype), tokenizer, load_feature_extractor_for(encoder_dir, audio_encoder.whisper.config)


def init_soundwave_adapters(model: SoundwaveForCausalLM) -> None:
    """Xavier on the alignment projection; added alignment layers start as the identity; CTC head = the LLM's
    input embeddings, and for the blank (the `<audio_patch>` row) a row the adapter can reach; all frozen."""
    with torch.no_grad():
        nn.init.xavier_uniform_(model.align_adapter.proj.weight)
        nn.init.zeros_(model.align_adapter.proj.bias)
        model.align_adapter.start_more_layers_as_identity()
        embeddings = model.get_input_embeddings().weight  # (V, D)
        model.align_adapter.ctc_head.weight.copy_(embeddings)
        reset_ctc_blank(model)
    model.align_adapter.ctc_head.weight.requires_grad_(False)


def reset_ctc_blank(model: SoundwaveForCausalLM) -> None:
    """Give the CTC blank (row `placeholder_id`) a row the adapter can make win (`reachable_blank_row`)."""
    head = model.align_adapter.ctc_head.weight  # (V + 1, D)
    blank = model.placeholder_id
    with torch.no_grad():
        head[blank] = reachable_blank_row(torch.cat([head[:blank], head[blank + 1 :]]))


def build_speechllm(spec: ModelSpec, dtype: torch.dtype = torch.float32):
    """Speech encoder + LLM + stack/MLP projector (no LoRA). Returns (model, tokenizer, feature_extractor)."""
    config = SpeechLLMConfig(
        speech_encoder_name_or_path=spec.encoder,
        text_decoder_name_or_path=spec.llm,
        downsample_factor=spec.downsample_factor,
        projector_n_layers=spec.projector_n_layers,
        projector_activation=spec.projector_activation,
        projector_hidden_size=spec.projector_hidden_size,
        system_prompt=SEED_SYSTEM_PROMPT if spec.system_prompt is None else spec.system_prompt,
    )
    parts, tokenizer, feature_extractor = speechllm_parts(config, dtype)
    return SpeechLLM(config, parts=parts).to(dtype), tokenizer, feature_extractor


def speechllm_parts(config: SpeechLLMConfig, dtype: torch.dtype = torch.float32):
    """Load the pretrained encoder and LLM a SpeechLLMConfig names; fill in the config's built fields.

    Returns:
        (SpeechLLMParts, tokenizer with `<audio>` added, feature extractor).
    """
    for field in ("speech_encoder_name_or_path", "text_decoder_name_or_path"):
        if not getattr(config, field):
            raise ConfigError(f"SpeechLLMConfig.{field} is not set: name the pretrained model to load")
    encoder_dir = resolve_base(config.speech_encoder_name_or_path)
    encoder = load_speech_encoder(encoder_dir, dtype)
    llm, tokenizer, placeholder_id = load_llm(config.text_decoder_name_or_path, config.audio_token, dtype)
    config.encoder_config = encoder.config
    config.text_config = llm.config
    config.audio_token_id = placeholder_id
    config.llm_pad_token_id = set_pad_and_eos(tokenizer, llm, placeholder_id, release=False)
    return SpeechLLMParts(encoder, llm), tokenizer, load_feature_extractor_for(encoder_dir, encoder.config)


def load_speechllm_parts(config: SpeechLLMConfig) -> SpeechLLMParts:
    """What `SpeechLLM(config)` loads when the config is not built yet (the seed's Quick Start)."""
    dtype = config.dtype if isinstance(config.dtype, torch.dtype) else torch.get_default_dtype()
    return speechllm_parts(config, dtype)[0]


def speechllm_tokenizer(config: SpeechLLMConfig):
    """The tokenizer of a built SpeechLLM: the LLM's, with `<audio>` added at the id the config records.

    Raises:
        ConfigError: the token lands on another id (the LLM's tokenizer changed since the model was built).
    """
    tokenizer = AutoTokenizer.from_pretrained(resolve_base(config.text_decoder_name_or_path))
    token_id = add_token(tokenizer, config.audio_token)
    if token_id != config.audio_token_id:
        raise ConfigError(
            f"{config.text_decoder_name_or_path}: {config.audio_token} got id {token_id}, the model was built with "
            f"{config.audio_token_id}; use the tokenizer saved with the model"
        )
    if tokenizer.pad_token_id is None and config.llm_pad_token_id is not None:
        tokenizer.pad_token = tokenizer.convert_ids_to_tokens(config.llm_pad_token_id)
    return tokenizer


# ---- base models and tokenizers -------------------------------------------------------------------------------
def resolve_base(name_or_path: str | Path) -> Path:
    """A base model's local directory: a known name through the hub registry, else a path (or a hub id online)."""
    try:
        from soundwave.hub import resolve_model_path
    except ImportError:  # no registry in this installation: names are paths
        resolve_model_path = str
    return resolve_checkpoint_dir(resolve_model_path(str(name_or_path)))


def load_llm(name_or_path: str | Path, placeholder: str, dtype: torch.dtype = torch.float32):
    """A pretrained causal LM and its tokenizer, with `placeholder` added (one embedding row if it is new).

    Returns:
        (llm, tokenizer, placeholder_id).
    """
    directory = resolve_base(name_or_path)
    tokenizer = AutoTokenizer.from_pretrained(directory)
    llm = AutoModelForCausalLM.from_pretrained(directory, dtype=dtype)
    placeholder_id = add_token(tokenizer, placeholder)
    rows = llm.get_input_embeddings().weight.shape[0]
    if placeholder_id >= rows:
        llm.resize_token_embeddings(placeholder_id + 1)  # mean-initialised new row(s)
    return llm, tokenizer, placeholder_id


def add_token(tokenizer, token: str) -> int:
    """Add `token` as a special token unless the tokenizer has it; return its id."""
    if token not in tokenizer.get_vocab():
        tokenizer.add_tokens([AddedToken(token, special=True, normalized=False)], special_tokens=True)
    return tokenizer.convert_tokens_to_ids(token)


def is_llama3_style(tokenizer) -> bool:
    """True for Llama-3 chat tokens (`<|start_header_id|>`, `<|end_header_id|>`, `<|eot_id|>`) and a bos token."""
    vocab = tokenizer.get_vocab()
    return tokenizer.bos_token is not None and all(t in vocab for t in (START_HEADER, END_HEADER, EOT))


def check_prompt_format(prompt_format: str, tokenizer, llm_name: str) -> None:
    if prompt_format == "release" and not is_llama3_style(tokenizer):
        raise ConfigError(f"prompt_format 'release' needs a Llama-3-style tokenizer; {llm_name} has none")
    if prompt_format == "chat_template" and not tokenizer.chat_template:
        raise ConfigError(
            f"{llm_name}: the tokenizer has no chat template; use an instruct model or set prompt_format: release"
        )


def set_pad_and_eos(tokenizer, llm: PreTrainedModel, placeholder_id: int, release: bool) -> int:
    """Pick the pad id, set it and the eos ids on the tokenizer / LLM configs; return the pad id.

    eos: the tokenizer's eos, the LLM's generation eos ids, and `<|eot_id|>` for Llama-3-style tokenizers.
    pad: `<|eot_id|>` for the release's prompt (it pads with it and masks those keys); otherwise the tokenizer's
    pad, then the first of PAD_CANDIDATES, that is not an eos, the bos or the placeholder, so a collator that
    ignores pad labels still learns to stop.
    """
    vocab = tokenizer.get_vocab()
    eos = [tokenizer.eos_token_id] if tokenizer.eos_token_id is not None else []
    generation_eos = llm.generation_config.eos_token_id
    eos += generation_eos if isinstance(generation_eos, list) else [generation_eos]
    if is_llama3_style(tokenizer):
        eos.append(vocab[EOT])
    eos_ids = list(dict.fromkeys(i for i in eos if i is not None))
    if not eos_ids:
        raise ConfigError(f"{tokenizer.name_or_path}: no eos token in the tokenizer or the generation config")
    if release:
        pad_id = vocab[EOT]
    else:
        taken = {*eos_ids, tokenizer.bos_token_id, placeholder_id}
        candidates = [tokenizer.pad_token_id, *(vocab.get(t) for t in PAD_CANDIDATES)]
        pad_id = next((i for i in candidates if i is not None and i not in taken), None)
        if pad_id is None:
            pad_id = eos_ids[0]
            log.warning("no pad token apart from eos in %s: padding with eos id %d", tokenizer.name_or_path, pad_id)
    tokenizer.pad_token = tokenizer.convert_ids_to_tokens(pad_id)
    for target in (llm.config, llm.generation_config):
        target.pad_token_id = pad_id
        target.eos_token_id = eos_ids[0] if len(eos_ids) == 1 else eos_ids
    return pad_id


def reset_module(module: nn.Module) -> None:
    """Re-run the default initialisation of every submodule (children before parents, as construction does)."""
    for sub in reversed(list(module.modules())):
        for name in ("reset_parameters", "_reset_parameters"):
            if callable(getattr(sub, name, None)):
                getattr(sub, name)()
