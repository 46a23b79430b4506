"""`SoundwaveForCausalLM`: Whisper encoder -> alignment adapter (CTC) -> shrinking adapter -> splice -> LLM.

The file to read first. `forward` follows the paper's figure box by box; each trick is a named function in its
own module (`stack_frames`, `ctc_keep_mask`, `gather_kept`, `LookBack`, `splice_audio`). The release's call
signature works as is: `model(input_ids=, attention_mask=, audios=FEATURES, labels=, asr_targets=)` returns the
release's loss (CE + 0.3 x CTC), and `model.generate(input_ids=, attention_mask=, audios=, ...)` generates.
What only training needs (stage 1's CTC alone, sampled-vocabulary CTC, the spelling loss, CE at the answer tokens
only, cached encoder frames) is in `soundwave.training.losses`, built from the parts named here.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor
from transformers import AutoModelForCausalLM, GenerationMixin, PreTrainedModel
from transformers.utils import ModelOutput

from soundwave.model.align_adapter import AlignAdapter, ctc_greedy_ids
from soundwave.model.audio_encoder import AudioEncoder
from soundwave.model.checkpoint import load_released, save_soundwave
from soundwave.model.configuration import SoundwaveConfig
from soundwave.model.generation import AudioGenerationMixin
from soundwave.model.kv_cache import llm_cache
from soundwave.model.losses import audio_ctc_loss, lm_loss
from soundwave.model.shrink_adapter import ShrinkAdapter
from soundwave.model.spelling import SpellingHead, greedy_spelling
from soundwave.model.splice import SplicedInputs, splice_audio
from soundwave.prompts import AUDIO_PATCH


@dataclass(frozen=True)
class AudioEncoding:
    """Everything the audio side computes for a batch (one row per item, windows already joined)."""

    embeds: Tensor  # (B, K, D)   shrunk audio in LLM space
    lengths: Tensor  # (B,)       valid K per row
    ctc_logits: Tensor  # (W, T', V) CTC head logits per window
    ctc_lengths: Tensor  # (W,)    valid T' per window
    tokens: Tensor  # (W, T')     CTC argmax per frame
    keep: Tensor  # (W, T')       frames kept by the shrinking step
    aligned: Tensor  # (W, T', D) alignment adapter output
    frames: Tensor | None = None  # (W, T, D_a) encoder frames (the spelling head reads them, `spelling_logits`)
    frame_lengths: Tensor | None = None  # (W,)  valid T per window


@dataclass
class SoundwaveOutput(ModelOutput):
    loss: Tensor | None = None
    logits: Tensor | None = None
    ce_loss: Tensor | None = None
    ctc_loss: Tensor | None = None
    labels: Tensor | None = None  # (B, L) labels aligned with `logits` after the splice
    attention_mask: Tensor | None = None  # (B, L)
    cache: object | None = None  # the LLM's KV cache (transformers 5.24 renamed past_key_values)
    audio: AudioEncoding | None = None


def join_windows(embeds: Tensor, lengths: Tensor, windows_per_item: Tensor) -> tuple[Tensor, Tensor]:
    """Concatenate the shrunk vectors of consecutive windows that belong to one item.

    Args:
        embeds: (W, K, D) per-window audio embeds; lengths: (W,) valid K per window.
        windows_per_item: (B,) number of windows of each item, summing to W.

    Returns:
        (B, K_total, D) joined embeds (zero-padded) and (B,) lengths.
    """
    rows, start = [], 0
    for count in windows_per_item.tolist():
        parts = [embeds[w, : int(lengths[w])] for w in range(start, start + count)]
        rows.append(torch.cat(parts) if parts else embeds.new_zeros(0, embeds.shape[-1]))
        start += count
    joined_lengths = torch.tensor([r.shape[0] for r in rows], device=embeds.device)
    joined = torch.nn.utils.rnn.pad_sequence(rows, batch_first=True)  # (B, K_total, D)
    return joined, joined_lengths


class SoundwaveForCausalLM(AudioGenerationMixin, PreTrainedModel, GenerationMixin):
    """A Soundwave speech LLM over any transformers causal LM."""

    config_class = SoundwaveConfig
    base_model_prefix = "soundwave"
    input_kind = "mel"  # the processor feeds Whisper log-mel windows
    placeholder_token = AUDIO_PATCH
    main_input_name = "input_ids"
    supports_gradient_checkpointing = True
    _supports_sdpa = True

    def __init__(self, config: SoundwaveConfig) -> None:
        super().__init__(config)
        if config.audio_config is None:
            raise ValueError("SoundwaveConfig.audio_config is needed to build the model (derive it from the weights)")
        paper = config.mode == "paper"
        self.audio_encoder = AudioEncoder(config.audio_config)
        self.align_adapter = AlignAdapter(
            in_dim=config.audio_config.d_model,
            dim=config.hidden_size,
            num_heads=config.num_heads,
            ffn_dim=config.ffn_size,
            vocab_size=config.vocab_size,
            dropout=config.adapter_dropout,
            temporal=paper if config.adapter_temporal is None else config.adapter_temporal,
            num_layers=config.adapter_num_layers,
        )
        self.shrink_adapter = ShrinkAdapter(
            config.hidden_size,
            config.num_heads,
            config.adapter_dropout,
            paper=paper,
            posterior_embeds=config.posterior_embeds,
        )
        self.spelling_head = (
            SpellingHead(config.audio_config.d_model, config.spelling_dim, config.spelling_layers)
            if config.spelling_head
            else None
        )
        self.llm = AutoModelForCausalLM.from_config(config.text_config)
        self.post_init()

    # ---- properties -------------------------------------------------------------------------------------------
    @property
    def placeholder_id(self) -> int:
        """`<audio_patch>`: the prompt placeholder, and the CTC blank."""
        return self.config.audio_patch_token

    @property
    def blank_id(self) -> int:
        """The CTC blank: `<audio_patch>`, the prompt placeholder."""
        return self.config.audio_patch_token

    @property
    def masked_key_id(self) -> int | None:
        return self.config.llm_pad_token_id if self.config.mask_eot_keys else None

    @property
    def paper(self) -> bool:
        return self.config.mode == "paper"

    @property
    def pads_to_window(self) -> bool:
        """The encoder reads whole 30 s windows, padding included, as the release's does (`released` mode); a
        paper-mode encoder reads only the valid frames, so its features stop at the batch's longest clip."""
        return not self.paper

    def get_input_embeddings(self):
        return self.llm.get_input_embeddings()

    def set_input_embeddings(self, value) -> None:
        self.llm.set_input_embeddings(value)

    def get_output_embeddings(self):
        return self.llm.get_output_embeddings()

    def _init_weights(self, module) -> None:  # parts are initialised by their own constructors / build_model
        pass

    # ---- the released format ----------------------------------------------------------------------------------
    @classmethod
    def from_pretrained(cls, pretrained_model_name_or_path, *args, config=None, dtype=None, torch_dtype=None, **kwargs):
        """Our strict released-format loader (`checkpoint.load_released`), also behind `AutoModelForCausalLM`.

        Keyword arguments that name SoundwaveConfig fields override the checkpoint's (`mode="paper"`); `device` or
        `device_map` (one device) places the model.
        """
        overrides = {k: kwargs.pop(k) for k in list(kwargs) if k in SoundwaveConfig.__dataclass_fields__}
        device = kwargs.pop("device", None) or kwargs.pop("device_map", None)
        if isinstance(device, dict):
            device = None
        return load_released(cls, pretrained_model_name_or_path, dtype=dtype or torch_dtype, device=device, **overrides)

    def save_pretrained(self, save_directory, *args, **kwargs) -> None:
        """Write the released format back (config.json + safetensors)."""
        save_soundwave(self, save_directory)

    # ---- the figure -------------------------------------------------------------------------------------------
    def encode_audio(
        self,
        mel: Tensor,
        mel_lengths: Tensor | None = None,
        windows_per_item: Tensor | None = None,
        ctc_from: int = 0,
    ) -> AudioEncoding:
        """log-mel windows (W, n_mels, F) -> shrunk audio embeds per item (B, K, D).

        Args:
            mel: (W, n_mels, F) log-mel windows (F = 3000 for a full Whisper window).
            mel_lengths: (W,) valid mel frames per window (None: all F). The release ignores it and encodes the
                whole 30 s window; the paper encodes only the valid frames.
            windows_per_item: (B,) windows per item for audio longer than one window (None: one each).
            ctc_from: CTC frames before it are not projected onto the vocabulary (`skip_ctc_before`).
        """
        if mel is None or mel.shape[0] == 0:
            return self.empty_audio_encoding()
        frames, frame_lengths = self.encode_frames(mel, mel_lengths)  # (W, T, D_a)
        return self.adapt_frames(frames, frame_lengths, windows_per_item, ctc_from)

    def encode_frames(self, mel: Tensor, mel_lengths: Tensor | None = None) -> tuple[Tensor, Tensor]:
        """Whisper encoder: (W, n_mels, F) -> frames (W, T, D_a) and frame_lengths (W,). Frozen in every stage, so
        it keeps no activations for a backward pass unless one of its weights trains."""
        if mel_lengths is None:
            mel_lengths = torch.full((mel.shape[0],), mel.shape[-1], device=mel.device, dtype=torch.long)
        mel = mel.to(self.dtype)
        trains = self.training and any(p.requires_grad for p in self.audio_encoder.parameters())
        with torch.set_grad_enabled(trains and torch.is_grad_enabled()):
            if self.paper:
                return self.audio_encoder.encode_valid(mel[..., : int(mel_lengths.max())], mel_lengths)
            frames = self.audio_encoder.encode_window(mel)  # (W, 1500, D_a)
        return frames, torch.full((mel.shape[0],), frames.shape[1], device=mel.device, dtype=torch.long)

    def align(self, frames: Tensor, frame_lengths: Tensor, ctc_from: int = 0) -> tuple[Tensor, Tensor, Tensor]:
        """Alignment adapter: frames -> aligned (W, T', D), CTC logits (W, T', V; 0 before frame `ctc_from`),
        lengths (W,). Stage 1 stops here."""
        return self.align_adapter(frames.to(self.dtype), frame_lengths, ctc_from)

    def adapt_frames(
        self, frames: Tensor, frame_lengths: Tensor, windows_per_item: Tensor | None = None, ctc_from: int = 0
    ) -> AudioEncoding:
        """Alignment adapter + CTC head -> CTC peaks -> shrinking adapter's look-back; windows of one item joined.

        Training with cached encoder frames starts here (`soundwave.training.losses`). `ctc_from`: see
        `skip_ctc_before`.
        """
        ctc_from = self.skip_ctc_before(ctc_from)
        aligned, ctc_logits, ctc_lengths = self.align(frames, frame_lengths, ctc_from)  # (W, T', D), (W, T', V)
        tokens = ctc_logits.argmax(dim=-1)  # (W, T') the CTC label of each frame
        tokens[:, :ctc_from] = self.blank_id  # frames not projected: blank, so nothing is kept there
        embeds, lengths, keep = self.shrink_adapter(  # (W, K, D): one vector per CTC peak, after the look-back
            aligned,
            tokens,
            ctc_lengths,
            blank_id=self.blank_id,
            ctc_logits=ctc_logits,
            text_rows=self.get_input_embeddings().weight,
        )
        if windows_per_item is not None:
            embeds, lengths = join_windows(embeds, lengths, windows_per_item)
        return AudioEncoding(embeds, lengths, ctc_logits, ctc_lengths, tokens, keep, aligned, frames, frame_lengths)

    def skip_ctc_before(self, frame: int) -> int:
        """The CTC frames a caller may leave unprojected (a live stream's settled frames): `frame` with the paper's
        shrinking adapter, whose kept vectors look back at every frame whatever was kept before them, so the frames
        from `frame` on get the same tokens, keep mask and vectors as with the whole head; 0 with the release's,
        whose look-back reads only the kept frames. Frames before it read as blank (nothing kept), logits 0."""
        return max(int(frame), 0) if self.shrink_adapter.paper else 0

    def empty_audio_encoding(self) -> AudioEncoding:
        """No audio at all in the batch (text-only rows)."""
        dim, vocab = self.config.hidden_size, self.config.vocab_size
        empty = torch.zeros(0, 0, dim, device=self.device, dtype=self.dtype)
        none = torch.zeros(0, dtype=torch.long, device=self.device)
        tokens = torch.zeros(0, 0, dtype=torch.long, device=self.device)
        logits = torch.zeros(0, 0, vocab, device=self.device, dtype=self.dtype)
        return AudioEncoding(empty, none, logits, none, tokens, tokens.bool(), empty)

    def splice(
        self,
        input_ids: Tensor,
        attention_mask: Tensor | None,
        audio: AudioEncoding,
        labels: Tensor | None = None,
        padding_side: str = "right",
        audios_per_row: Tensor | None = None,
    ) -> SplicedInputs:
        """Put each row's audio embeds where its `<audio_patch>` tokens are."""
        if attention_mask is None:
            attention_mask = torch.ones_like(input_ids)
        text_embeds = self.get_input_embeddings()(input_ids)  # (B, S, D)
        return splice_audio(
            text_embeds,
            input_ids,
            attention_mask,
            audio.embeds.to(text_embeds.dtype),
            audio.lengths,
            self.placeholder_id,
            labels=labels,
            masked_key_id=self.masked_key_id,
            padding_side=padding_side,
            audios_per_row=audios_per_row,
        )

    def forward(
        self,
        input_ids: Tensor,
        attention_mask: Tensor | None = None,
        audios: Tensor | None = None,
        labels: Tensor | None = None,
        asr_targets: Tensor | None = None,
        audio_lengths: Tensor | None = None,
        windows_per_item: Tensor | None = None,
        audios_per_row: Tensor | None = None,
        **llm_kwargs,
    ) -> SoundwaveOutput:
        """The release's forward: logits, and its training loss CE + `config.ctc_weight` x CTC given the targets.

        The loss weight is the config's (the release's 0.3) here only; training weighs its losses by
        `training.loss_weights` and computes them from the parts below (`soundwave.training.losses`).

        Args:
            input_ids: (B, S) prompt (+ answer) ids with one `<audio_patch>` per audio.
            attention_mask: (B, S) 1 for tokens, 0 for padding.
            audios: (W, n_mels, F) log-mel windows (one per row unless `windows_per_item` / `audios_per_row`).
            labels: (B, S) next-token targets, -100 where no loss (the prompt); gives `ce_loss`.
            asr_targets: (N, T) transcript ids per audio, padded with -100; gives `ctc_loss` (single-window audios).
            audio_lengths: (W,) valid mel frames per window (used by the paper mode).
            windows_per_item: (N,) windows per audio for long audio.
            audios_per_row: (B,) audios (placeholders) per row (default 1 each; 0 for text-only rows).
        """
        # Whisper encoder -> alignment adapter + CTC head -> shrinking adapter (CTC peaks, look-back), per window
        audio = self.encode_audio(audios, audio_lengths, windows_per_item)
        # -> the shrunk audio spliced in at each `<audio_patch>` -> the LLM
        inputs = self.splice(input_ids, attention_mask, audio, labels=labels, audios_per_row=audios_per_row)
        out = self.llm(
            inputs_embeds=inputs.embeds,
            attention_mask=inputs.attention_mask,
            position_ids=inputs.position_ids,
            **llm_kwargs,
        )
        # the release's loss: CE on the answer + ctc_weight x CTC of the alignment adapter on the transcript
        ce = lm_loss(out.logits, inputs.labels) if labels is not None else None
        ctc = None
        if asr_targets is not None and audio.ctc_logits.shape[0] > 0:
            ctc = audio_ctc_loss(audio.ctc_logits, audio.ctc_lengths, asr_targets, self.blank_id, windows_per_item)
        loss = ce + self.config.ctc_weight * ctc if ce is not None and ctc is not None else ce
        return SoundwaveOutput(
            loss=loss,
            logits=out.logits,
            ce_loss=ce,
            ctc_loss=ctc,
            labels=inputs.labels,
            attention_mask=inputs.attention_mask,
            cache=llm_cache(out),
            audio=audio,
        )

    # ---- what the adapters alone hear (validation, joint decoding) ------------------------------------------
    def greedy_ctc_ids(self, mel: Tensor, mel_lengths: Tensor | None = None) -> list[list[int]]:
        """What the alignment adapter alone transcribes: greedy CTC token ids per window (no LLM)."""
        frames, frame_lengths = self.encode_frames(mel, mel_lengths)
        _, ctc_logits, ctc_lengths = self.align(frames, frame_lengths)  # (W, T', V)
        return ctc_greedy_ids(ctc_logits.argmax(dim=-1), ctc_lengths, self.blank_id)

    def spelling_logits(self, frames: Tensor, frame_lengths: Tensor) -> Tensor:
        """The spelling head on encoder frames (W, T, D_a) -> character CTC logits (W, T, C); only when asked (a
        transcript decoded with `spelling_weight`, the spelling loss), never on every encode."""
        if self.spelling_head is None:
            raise ValueError("this model has no spelling head (model.spelling_head: false)")
        return self.spelling_head(frames.to(self.dtype), frame_lengths)

    def spelling_texts(self, mel: Tensor, mel_lengths: Tensor | None = None) -> list[str]:
        """What the spelling head alone hears: greedy character CTC per window (models with a spelling head)."""
        frames, frame_lengths = self.encode_frames(mel, mel_lengths)
        return greedy_spelling(self.spelling_logits(frames, frame_lengths), frame_lengths)
