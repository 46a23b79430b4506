"""SpecAugment (Park et al., 2019) on the log-mel input of the frozen encoder, training batches only.

A few bands of mel bins and a few spans of time are set to the clip's mean log-mel, so the adapter cannot lean on
one voice's spectral envelope or on every frame of a word being there. Only valid frames are touched: the padded
tail of a row stays as the collator made it.

    mel = spec_augment(mel, mel_lengths, SpecAugment(freq_masks=2, freq_width=15, time_masks=2, time_width=40))

`frame_augment` applies the same masks to the frozen encoder's cached outputs (`training.frame_augment`): feature
bands of the 384 (Whisper tiny) dims and spans of 50 Hz frames, so a head trained on cached frames still sees
a different clip each epoch.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from soundwave.errors import ConfigError


@dataclass(frozen=True)
class SpecAugment:
    """`training.spec_augment`: how many masks of at most how many bins / frames (10 ms each); 0 masks is off."""

    freq_masks: int = 2
    freq_width: int = 15  # of Whisper's 80 mel bins
    time_masks: int = 2
    time_width: int = 40  # mel frames (0.4 s)
    max_time_fraction: float = 0.1  # one time mask covers at most this share of the clip

    def __post_init__(self) -> None:
        for key in ("freq_masks", "freq_width", "time_masks", "time_width"):
            if getattr(self, key) < 0:
                raise ConfigError(f"training.spec_augment.{key} must be >= 0, got {getattr(self, key)}")
        if not 0 < self.max_time_fraction <= 1:
            raise ConfigError(
                f"training.spec_augment.max_time_fraction must be in (0, 1], got {self.max_time_fraction}"
            )


def band_mask(
    size: int, max_width: Tensor, count: int, limit: Tensor, generator: torch.Generator | None = None
) -> Tensor:
    """`count` random bands per row, each 0..max_width wide and inside the row's first `limit` positions.

    Args:
        size: positions along the masked axis.
        max_width: (B,) widest band per row.
        count: bands per row (they may overlap).
        limit: (B,) the row's own length (<= size); bands never run past it.

    Returns:
        bool (B, size): the masked positions.
    """
    rows = max_width.shape[0]
    device = max_width.device
    max_width = torch.minimum(max_width, limit)
    hit = torch.zeros(rows, size, dtype=torch.bool, device=device)
    positions = torch.arange(size, device=device)  # (size,)
    for _ in range(count):
        width = (torch.rand(rows, generator=generator, device=device) * (max_width + 1)).long()  # (B,) 0..max
        start = (torch.rand(rows, generator=generator, device=device) * (limit - width + 1)).long()  # (B,)
        hit |= (positions[None, :] >= start[:, None]) & (positions[None, :] < (start + width)[:, None])
    return hit


def spec_augment(
    mel: Tensor, mel_lengths: Tensor, cfg: SpecAugment, generator: torch.Generator | None = None
) -> Tensor:
    """Masked copy of a log-mel batch.

    Args:
        mel: (W, n_mels, F) log-mel windows, rows right-padded.
        mel_lengths: (W,) valid mel frames per row.
        cfg: mask counts and widths.

    Returns:
        (W, n_mels, F): masked bins / frames of each row's valid part set to that row's mean valid log-mel.
    """
    windows, n_mels, n_frames = mel.shape
    is_valid = torch.arange(n_frames, device=mel.device)[None, :] < mel_lengths[:, None]  # (W, F)
    fill = (mel * is_valid[:, None, :]).sum(dim=(1, 2)) / (mel_lengths.clamp(min=1) * n_mels)  # (W,)

    all_bins = torch.full((windows,), n_mels, device=mel.device)  # (W,): band_mask clamps widths to it
    freq_hit = band_mask(n_mels, torch.full_like(all_bins, cfg.freq_width), cfg.freq_masks, all_bins, generator)
    time_width = torch.minimum(
        torch.full_like(mel_lengths, cfg.time_width), (mel_lengths * cfg.max_time_fraction).long()
    )  # (W,)
    time_hit = band_mask(n_frames, time_width, cfg.time_masks, mel_lengths, generator)  # (W, F)
    # a masked bin or frame, inside the valid part: (W, n_mels, 1) | (W, 1, F) -> (W, n_mels, F)
    hit = (freq_hit[:, :, None] & is_valid[:, None, :]) | time_hit[:, None, :]
    return torch.where(hit, fill[:, None, None].to(mel.dtype), mel)


def frame_augment(frames: Tensor, frame_lengths: Tensor, cfg: SpecAugment, generator: torch.Generator | None = None):
    """Masked copy of encoder frames (W, T, D): `spec_augment` with D as the bands and T as the time axis."""
    masked = spec_augment(frames.transpose(1, 2), frame_lengths, cfg, generator)  # (W, T, D) -> (W, D, T)
    return masked.transpose(1, 2)  # (W, D, T) -> (W, T, D)
