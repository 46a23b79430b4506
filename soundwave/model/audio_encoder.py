"""The Whisper audio encoder, used through transformers' `WhisperEncoder`.

Two ways to run it:
- the full window (`encode_window`): exactly what the release does, 3000 mel frames (30 s) -> 1500 frames;
- only the valid frames (`encode_valid`): the paper behaviour, no compute spent on the zero-padded tail. Rows of a
  batch are padded to the longest and the padding is masked out of the convolutions and of self-attention, so a
  clip gives the same frames alone or in a batch.
"""

from __future__ import annotations

import re

import torch
from torch import Tensor, nn
from transformers import WhisperConfig
from transformers.models.whisper.modeling_whisper import WhisperEncoder

WHISPER_HEAD_DIM = 64  # true for every Whisper size
MEL_FRAMES_PER_ENCODER_FRAME = 2  # conv2 has stride 2


def whisper_config_from_weights(state_dict: dict[str, Tensor], prefix: str = "") -> WhisperConfig:
    """Recover a Whisper encoder's geometry from its weights alone (no network, no config file).

    Args:
        state_dict: tensors of a Whisper encoder (keys `conv1.weight`, `layers.N....`, ...), possibly prefixed.
        prefix: prefix of the encoder keys in `state_dict`, e.g. `"model.audio_tower."`.
    """
    conv1 = state_dict[f"{prefix}conv1.weight"]  # (d_model, n_mels, 3)
    d_model, n_mels = conv1.shape[0], conv1.shape[1]
    layer_ids = {int(m.group(1)) for k in state_dict if (m := re.match(re.escape(prefix) + r"layers\.(\d+)\.", k))}
    ffn = state_dict[f"{prefix}layers.0.fc1.weight"].shape[0]
    positions = state_dict[f"{prefix}embed_positions.weight"].shape[0]
    heads = d_model // WHISPER_HEAD_DIM
    return WhisperConfig(
        d_model=d_model,
        num_mel_bins=n_mels,
        encoder_layers=len(layer_ids),
        encoder_attention_heads=heads,
        encoder_ffn_dim=ffn,
        decoder_layers=1,
        decoder_attention_heads=heads,
        decoder_ffn_dim=ffn,
        max_source_positions=positions,
    )


def frame_lengths_from_mel(mel_lengths: Tensor) -> Tensor:
    """(B,) valid mel frames -> (B,) valid encoder frames (conv2 halves the rate, rounding up)."""
    return (mel_lengths + MEL_FRAMES_PER_ENCODER_FRAME - 1) // MEL_FRAMES_PER_ENCODER_FRAME


class AudioEncoder(nn.Module):
    """Whisper encoder: log-mel (B, n_mels, F) -> frames (B, T, D_a) at 50 Hz."""

    def __init__(self, config: WhisperConfig) -> None:
        super().__init__()
        # fused attention: 1.5x faster than eager on CPU for 30 s windows (bench/encoder_attention.py); outputs
        # differ from eager's by ~1e-6
        config._attn_implementation = config._attn_implementation or "sdpa"
        self.whisper = WhisperEncoder(config)

    @property
    def window_mel_frames(self) -> int:
        """Mel frames of one full window: 3000 (30 s) for Whisper."""
        return self.whisper.config.max_source_positions * MEL_FRAMES_PER_ENCODER_FRAME

    @property
    def dim(self) -> int:
        return self.whisper.config.d_model

    def encode_window(self, mel: Tensor) -> Tensor:
        """The release's way: (B, n_mels, 3000) -> (B, 1500, D_a), the padded tail included."""
        return self.whisper(mel).last_hidden_state

    def encode_valid(self, mel: Tensor, mel_lengths: Tensor) -> tuple[Tensor, Tensor]:
        """Encode only the valid frames of each row.

        Args:
            mel: (B, n_mels, F) log-mel, F <= window, rows right-padded (any values past the length).
            mel_lengths: (B,) valid mel frames per row.

        Returns:
            frames (B, T, D_a) with T = ceil(F / 2), and frame_lengths (B,).
        """
        whisper = self.whisper
        n_frames = mel.shape[-1]
        is_valid_mel = torch.arange(n_frames, device=mel.device) < mel_lengths[:, None]  # (B, F)
        x = mel * is_valid_mel[:, None, :]  # zero past the end, as conv padding would be alone
        x = nn.functional.gelu(whisper.conv1(x)) * is_valid_mel[:, None, :]
        x = nn.functional.gelu(whisper.conv2(x))  # (B, D_a, F) -> (B, D_a, T)
        x = x.permute(0, 2, 1)  # (B, D_a, T) -> (B, T, D_a)
        frame_lengths = frame_lengths_from_mel(mel_lengths)
        positions = torch.arange(x.shape[1], device=x.device)
        hidden = x + whisper.embed_positions(positions)
        hidden = nn.functional.dropout(hidden, p=whisper.dropout, training=self.training)
        is_pad = positions[None, :] >= frame_lengths[:, None]  # (B, T)
        # additive key mask (B, 1, 1, T): padded frames are never attended to
        attn_mask = torch.zeros(is_pad.shape, dtype=hidden.dtype, device=hidden.device)
        attn_mask = attn_mask.masked_fill(is_pad, torch.finfo(hidden.dtype).min)[:, None, None, :]
        for layer in whisper.layers:
            hidden = layer(hidden, attn_mask)
            hidden = hidden[0] if isinstance(hidden, tuple) else hidden
        return whisper.layer_norm(hidden), frame_lengths
