"""`build_model`: pretrained encoder + pretrained LLM + a new adapter, ready to train. The only config -> module step.

    model, tokenizer, feature_extractor = build_model(encoder="whisper-tiny.en", llm="smollm2-135m-instruct")
    model, tokenizer, feature_extractor = build_model("models/wavlm-large", "models/Llama-3.2-1B", adapter="speechllm")
    model, tokenizer, feature_extractor = build_from_spec("configs/model.yaml", ["lora.r=16"])

Both adapters: the LLM's tokenizer gains the audio placeholder (one embedding row added when it is new), a pad id
that is not a content token, and the end-of-turn ids as eos (`soundwave.model.pretrained`). Soundwave: the CTC
head starts as a copy of the LLM's input embedding matrix (new blank row included) and is frozen; the alignment
projection is xavier-initialised. What to build is a `ModelSpec` (`soundwave.model.spec`, the one schema).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from pathlib import Path

import torch
from torch import nn
from transformers import AutoConfig

from soundwave.errors import ConfigError
from soundwave.model.align_adapter import reachable_blank_row
from soundwave.model.configuration import SoundwaveConfig
from soundwave.model.lora import LoraSpec, apply_lora, is_lora_parameter
from soundwave.model.pretrained import (  # noqa: F401  (add_token: bench/gpu_throughput.py imports it from here)
    add_token,
    check_prompt_format,
    is_llama3_style,
    load_llm,
    resolve_base,
    set_pad_and_eos,
)
from soundwave.model.soundwave import SoundwaveForCausalLM
from soundwave.model.spec import (
    Adapter,
    Mode,
    ModelSpec,
    SoundwaveOptions,
    SpeechLLMOptions,
    load_model_spec,
    option_names,
)
from soundwave.model.speech_encoder import input_kind_of, load_feature_extractor_for, load_whisper_encoder
from soundwave.model.speechllm import SEED_SYSTEM_PROMPT, SpeechLLM, SpeechLLMConfig, speechllm_parts
from soundwave.prompts import AUDIO_PATCH

BASE_PREFIXES = ("llm.", "audio_encoder.", "encoder.")  # parameter names of the pretrained parts


def build_model(
    encoder: str,
    llm: str,
    adapter: Adapter = "soundwave",
    mode: Mode = "released",
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
    options = {name: getattr(spec, name) for name in option_names(SoundwaveOptions)}
    llama3 = is_llama3_style(tokenizer)  # the two options left to the builder follow the LLM's tokenizer
    options["prompt_format"] = spec.prompt_format or ("release" if llama3 else "chat_template")
    options["mask_eot_keys"] = llama3 if spec.mask_eot_keys is None else spec.mask_eot_keys
    check_prompt_format(options["prompt_format"], tokenizer, spec.llm)
    pad_id = set_pad_and_eos(tokenizer, llm, placeholder_id, release=options["prompt_format"] == "release")
    config = SoundwaveConfig(
        text_config=llm.config,
        audio_config=audio_encoder.whisper.config,
        audio_patch_token=placeholder_id,
        audio_tower=spec.encoder,
        llm_pad_token_id=pad_id,
        system_prompt=spec.system_prompt,
        **options,
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
        system_prompt=SEED_SYSTEM_PROMPT if spec.system_prompt is None else spec.system_prompt,
        **{name: getattr(spec, name) for name in option_names(SpeechLLMOptions)},
    )
    parts, tokenizer, feature_extractor = speechllm_parts(config, dtype)
    return SpeechLLM(config, parts=parts).to(dtype), tokenizer, feature_extractor


def reset_module(module: nn.Module) -> None:
    """Re-run the default initialisation of every submodule (children before parents, as construction does)."""
    for sub in reversed(list(module.modules())):
        for name in ("reset_parameters", "_reset_parameters"):
            if callable(getattr(sub, name, None)):
                getattr(sub, name)()
