"""`SpeechLLM`: any speech encoder -> stack k frames -> MLP projector -> splice at `<audio>` -> any causal LM.

The SpeechLLM seed's design (spec section 6), with its two bugs fixed: `SpeechLLM(config)` loads the pretrained
weights of both the encoder and the LLM, and the encoder trains when unfrozen (no blanket `no_grad`).

    config = SpeechLLMConfig(speech_encoder_name_or_path="microsoft/wavlm-large",
                             text_decoder_name_or_path="meta-llama/Llama-3.2-1B", downsample_factor=5)
    model = SpeechLLM(config=config)   # pretrained encoder + LLM, `<audio>` added to the LLM's vocabulary

A config that already holds `encoder_config` and `text_config` (a saved model) builds the parts from them without
loading anything: that is what `from_pretrained` does before it loads the saved weights.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn
from transformers import (
    AutoConfig,
    AutoModelForCausalLM,
    AutoTokenizer,
    GenerationMixin,
    PreTrainedConfig,
    PreTrainedModel,
)
from transformers.utils import ModelOutput

from soundwave.errors import ConfigError
from soundwave.model.align_adapter import stack_frames
from soundwave.model.generation import AudioGenerationMixin
from soundwave.model.kv_cache import llm_cache
from soundwave.model.losses import lm_loss
from soundwave.model.pretrained import add_token, load_llm, resolve_base, set_pad_and_eos
from soundwave.model.projector import Projector
from soundwave.model.soundwave import join_windows
from soundwave.model.spec import SpeechLLMOptions, config_fields
from soundwave.model.speech_encoder import SpeechEncoder, load_feature_extractor_for, load_speech_encoder
from soundwave.model.splice import SplicedInputs, splice_audio
from soundwave.model.sub_configs import (
    HAS_SUB_CONFIG_SPEC,
    SubConfig,
    build_sub_configs,
    sub_config_classes,
    sub_config_specs,
)

AUDIO_TOKEN = "<audio>"
DEFAULT_INSTRUCTION = "transcribe input speech to English text: "
SEED_SYSTEM_PROMPT = (  # the seed's llama_3_1 conversation template
    "A chat between a curious user and an artificial intelligence assistant. "
    "The assistant gives helpful, detailed, and polite answers to the user's questions."
)
SUB_CONFIGS = {
    "encoder_config": SubConfig(AutoConfig, model_type="wavlm", optional=True),
    "text_config": SubConfig(AutoConfig, model_type="llama", optional=True),
}


class SpeechLLMConfig(PreTrainedConfig, config_fields(SpeechLLMOptions)):
    """Configuration of a SpeechLLM: its parts, and the adapter's options (`SpeechLLMOptions`, declared once in
    `soundwave.model.spec`, inherited here with their types and defaults).

    Args:
        speech_encoder_name_or_path: the pretrained speech encoder (a local directory or a known name).
        text_decoder_name_or_path: the pretrained causal LM (a local directory or a known name).
        encoder_config: the encoder's config (filled in when the model is built; saved with it).
        text_config: the LLM's config, vocabulary incl. `<audio>` (filled in when built; saved with it).
        audio_token: the placeholder string in prompts.
        audio_token_id: its id (filled in when the token is added to the tokenizer).
        llm_pad_token_id: id used to pad prompts and generated rows.
        default_instruction: the instruction the seed trains with.
        prompt_format: how prompts are built: "chat_template" (the LLM's own).
        system_prompt: the system message of the prompts (the seed's by default).
        **options: the `SpeechLLMOptions` (downsample_factor, projector_n_layers, projector_activation,
            projector_hidden_size).
    """

    model_type = "speechllm"
    if HAS_SUB_CONFIG_SPEC:  # transformers 5.25; earlier 5.x (5.17): see sub_configs.py
        sub_configs_defaults = sub_config_specs(SUB_CONFIGS)
    else:
        sub_configs = sub_config_classes(SUB_CONFIGS)

    speech_encoder_name_or_path: str | None = None
    text_decoder_name_or_path: str | None = None
    encoder_config: dict | PreTrainedConfig | None = None
    text_config: dict | PreTrainedConfig | None = None
    audio_token: str = AUDIO_TOKEN
    audio_token_id: int | None = None
    llm_pad_token_id: int | None = None
    default_instruction: str = DEFAULT_INSTRUCTION
    prompt_format: str = "chat_template"
    system_prompt: str | None = SEED_SYSTEM_PROMPT

    def __post_init__(self, **kwargs) -> None:
        build_sub_configs(self, SUB_CONFIGS)
        super().__post_init__(**kwargs)
        if self.downsample_factor < 1:
            raise ConfigError(f"downsample_factor must be >= 1, got {self.downsample_factor}")
        if self.projector_n_layers < 0:
            raise ConfigError(f"projector_n_layers must be >= 0, got {self.projector_n_layers}")
        if self.prompt_format != "chat_template":
            raise ConfigError(f"SpeechLLM prompts use the LLM's chat template; prompt_format {self.prompt_format!r}")

    @property
    def is_built(self) -> bool:
        """True once the encoder and LLM configs are known (a built or saved model)."""
        return self.encoder_config is not None and self.text_config is not None


@dataclass(frozen=True)
class SpeechLLMParts:
    """Already built (usually pretrained) encoder and LLM for `SpeechLLM(config, parts=...)`."""

    encoder: SpeechEncoder
    llm: PreTrainedModel


@dataclass(frozen=True)
class SpeechEncoding:
    """The audio side of a batch."""

    embeds: Tensor  # (A, K, D)   projected audio in LLM space per audio (windows joined), K = ceil(T / k)
    lengths: Tensor  # (A,)       valid K per audio
    frames: Tensor  # (W, T, D_a) encoder output per window
    frame_lengths: Tensor  # (W,) valid T per window


@dataclass
class SpeechLLMOutput(ModelOutput):
    loss: Tensor | None = None
    logits: Tensor | None = None
    labels: Tensor | None = None  # (B, L) labels aligned with `logits` after the splice
    attention_mask: Tensor | None = None  # (B, L)
    cache: object | None = None  # the LLM's KV cache (transformers 5.24 renamed past_key_values)
    audio: SpeechEncoding | None = None


class SpeechLLM(AudioGenerationMixin, PreTrainedModel, GenerationMixin):
    """Speech encoder + frame stacking + MLP projector + causal LM.

    Args:
        config: a `SpeechLLMConfig`. Without `encoder_config` / `text_config`, the pretrained encoder and LLM named
            by its paths are loaded and `<audio>` is added to the LLM's vocabulary (the config is filled in).
        parts: already built parts (used by `build_model`); the config must then be filled in by the caller.
    """

    config_class = SpeechLLMConfig
    base_model_prefix = "speechllm"
    main_input_name = "input_ids"
    supports_gradient_checkpointing = True
    _supports_sdpa = True

    def __init__(self, config: SpeechLLMConfig, parts: SpeechLLMParts | None = None) -> None:
        super().__init__(config)
        if parts is None and not config.is_built:
            parts = load_speechllm_parts(config)
        if parts is None:
            parts = SpeechLLMParts(
                SpeechEncoder(config.encoder_config), AutoModelForCausalLM.from_config(config.text_config)
            )
        else:  # pretrained weights: keep post_init's initialisation off them
            mark_initialized(parts.encoder)
            mark_initialized(parts.llm)
        self.encoder = parts.encoder
        self.projector = Projector(
            in_dim=config.downsample_factor * parts.encoder.dim,
            out_dim=parts.llm.config.hidden_size,
            hidden_dim=config.projector_hidden_size,
            n_layers=config.projector_n_layers,
            activation=config.projector_activation,
        )
        self.llm = parts.llm
        self.post_init()

    # ---- what the processor and the Pipeline need -----------------------------------------------------------
    @property
    def input_kind(self) -> str:
        """ "mel" (Whisper feature extractor) or "waveform" (wav2vec2 feature extractor)."""
        return self.encoder.input_kind

    @property
    def pads_to_window(self) -> bool:
        """No: the encoder reads only each clip's valid frames (`SpeechEncoder`), so features stop at the batch's
        longest clip (a 3 s clip costs 3 s of encoder, not 30)."""
        return False

    @property
    def placeholder_token(self) -> str:
        return self.config.audio_token

    @property
    def placeholder_id(self) -> int:
        if self.config.audio_token_id is None:
            raise ConfigError(f"SpeechLLMConfig.audio_token_id is not set: add {self.config.audio_token!r} first")
        return self.config.audio_token_id

    def get_input_embeddings(self) -> nn.Module:
        return self.llm.get_input_embeddings()

    def set_input_embeddings(self, value: nn.Module) -> None:
        self.llm.set_input_embeddings(value)

    def get_output_embeddings(self) -> nn.Module | None:
        return self.llm.get_output_embeddings()

    def _init_weights(self, module: nn.Module) -> None:  # parts initialise themselves (projector: xavier)
        pass

    # ---- the figure -------------------------------------------------------------------------------------------
    def encode_audio(
        self, audios: Tensor | None, audio_lengths: Tensor | None = None, windows_per_item: Tensor | None = None
    ) -> SpeechEncoding:
        """Audio -> projected audio embeds, one LLM vector per k encoder frames.

        Args:
            audios: (W, n_mels, F) log-mel ("mel") or (W, N) 16 kHz waveforms ("waveform"), right-padded; one
                row per audio, or per window of a long audio. None or empty: no audio in the batch.
            audio_lengths: (W,) valid mel frames / samples per row (None: whole rows).
            windows_per_item: (A,) windows of each audio, summing to W (None: one each); their vectors are joined.
        """
        if audios is None or audios.shape[0] == 0:
            return self.empty_audio_encoding()
        frames, frame_lengths = self.encoder(audios, audio_lengths)  # (W, T, D_a)
        # frames past each length are zeroed, the tail padded with zero frames to a multiple of k
        stacked, lengths = stack_frames(frames, frame_lengths, stack=self.config.downsample_factor)  # (W, K, k*D_a)
        embeds = self.projector(stacked.to(self.projector.residual.weight.dtype))  # (W, K, D)
        if windows_per_item is not None:
            embeds, lengths = join_windows(embeds, lengths, windows_per_item)  # (A, K_total, D)
        return SpeechEncoding(embeds, lengths, frames, frame_lengths)

    def empty_audio_encoding(self) -> SpeechEncoding:
        """No audio at all in the batch (text-only rows)."""
        dim, device, dtype = self.config.text_config.hidden_size, self.device, self.dtype
        none = torch.zeros(0, dtype=torch.long, device=device)
        return SpeechEncoding(
            torch.zeros(0, 0, dim, device=device, dtype=dtype), none, torch.zeros(0, 0, 0, device=device), none
        )

    def splice(
        self,
        input_ids: Tensor,
        attention_mask: Tensor | None,
        audio: SpeechEncoding,
        labels: Tensor | None = None,
        padding_side: str = "right",
        audios_per_row: Tensor | None = None,
    ) -> SplicedInputs:
        """Put each audio's embeds where its `<audio>` is; rows without audio (count 0) are kept as they are.

        `audios_per_row` (B,) counts the audios of each row; None means one each, or none at all when the
        batch has no audio.
        """
        if attention_mask is None:
            attention_mask = torch.ones_like(input_ids)
        if audios_per_row is None and audio.lengths.numel() == 0:
            audios_per_row = torch.zeros(input_ids.shape[0], dtype=torch.long)
        text_embeds = self.get_input_embeddings()(input_ids)  # (B, S, D)
        return splice_audio(
            text_embeds,
            input_ids,
            attention_mask,
            audio.embeds.to(text_embeds.dtype),
            audio.lengths,
            self.placeholder_id,
            labels=labels,
            padding_side=padding_side,
            audios_per_row=audios_per_row,
        )

    def forward(
        self,
        input_ids: Tensor,
        attention_mask: Tensor | None = None,
        audios: Tensor | None = None,
        audio_lengths: Tensor | None = None,
        labels: Tensor | None = None,
        windows_per_item: Tensor | None = None,
        audios_per_row: Tensor | None = None,
        **llm_kwargs,
    ) -> SpeechLLMOutput:
        """Training / scoring forward: next-token CE over the spliced sequence.

        Args:
            input_ids: (B, S) prompt (+ answer) ids with one `<audio>` per audio, right-padded.
            attention_mask: (B, S) 1 for tokens, 0 for padding.
            audios: (W, n_mels, F) or (W, N) audio (see `encode_audio`); None: text only.
            audio_lengths: (W,) valid mel frames / samples per row of `audios`.
            labels: (B, S) next-token targets, IGNORE_INDEX where no loss (the prompt).
            windows_per_item: (A,) windows per audio for long audio.
            audios_per_row: (B,) audios per row (default one each; 0 for text-only rows).
        """
        audio = self.encode_audio(audios, audio_lengths, windows_per_item)
        inputs = self.splice(input_ids, attention_mask, audio, labels=labels, audios_per_row=audios_per_row)
        out = self.llm(
            inputs_embeds=inputs.embeds,
            attention_mask=inputs.attention_mask,
            position_ids=inputs.position_ids,
            **llm_kwargs,
        )
        loss = lm_loss(out.logits, inputs.labels) if labels is not None else None
        return SpeechLLMOutput(
            loss=loss,
            logits=out.logits,
            labels=inputs.labels,
            attention_mask=inputs.attention_mask,
            cache=llm_cache(out),
            audio=audio,
        )


def mark_initialized(module: nn.Module) -> None:
    """Flag pretrained weights so transformers' `post_init` leaves them alone."""
    for sub in module.modules():
        sub._is_hf_initialized = True
    for tensor in [*module.parameters(), *module.buffers()]:
        tensor._is_hf_initialized = True


# ---- pretrained parts -----------------------------------------------------------------------------------------
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
