"""Spelling CTC (ours, not in the paper or the release): a small character CTC head on the encoder frames.

The alignment adapter's CTC is over the LLM's ~49k BPE tokens, so it can only emit a word it heard often enough
for that token to become a class ("wonders" and "discovers" are one token each in SmolLM2). A character CTC spells
what it hears, so joint decoding (`soundwave/inference/ctc_prefix.py`) can let the LLM say a rare word when its
spelling matches the audio. The head reads the frozen encoder's 50 Hz frames beside the alignment adapter; the
adapters, the LLM and what they compute are unchanged.

    frames (B, T, D_a) --Linear--> +conv over time--> --N transformer layers--> --LayerNorm--> --Linear-->
        logits (B, T, 1 + |CHARSET|)

The depthwise convolution gives the layers the frames' order (self-attention alone is order-blind).
"""

from __future__ import annotations

import re
import unicodedata

import torch
from torch import Tensor, nn

CHARSET = " abcdefghijklmnopqrstuvwxyz'"
BLANK = 0  # label 0 is the CTC blank; CHARSET[i] is label i + 1
SPACE = 1
_LABEL = {c: i + 1 for i, c in enumerate(CHARSET)}
_DROP = re.compile(r"[^a-z' ]")  # after lowercasing and mapping separators to spaces: digits, punctuation


def spelling_text(text: str) -> str:
    """What the spelling CTC hears of a text: lowercase ASCII letters, apostrophes and single spaces.

    Accents are stripped (é -> e), whitespace, hyphens and slashes separate words, every other character (digits,
    punctuation) is dropped: "Well-known, 1990s!" -> "well known s".
    """
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().lower()
    spaced = re.sub(r"[\s\-/_]+", " ", ascii_text)
    return re.sub(r" +", " ", _DROP.sub("", spaced))


def spell(text: str) -> list[int]:
    """The spelling CTC's target labels of a transcript (`spelling_text`, stripped)."""
    return [_LABEL[c] for c in spelling_text(text).strip()]


def unspell(labels: list[int]) -> str:
    """Labels (blank-free) -> text."""
    return "".join(CHARSET[label - 1] for label in labels if label != BLANK)


class SpellingHead(nn.Module):
    """Encoder frames -> character CTC logits (label 0: blank).

    Args:
        in_dim: encoder width D_a.
        dim: the head's width.
        num_layers: transformer layers (self-attention over time).
        num_heads: attention heads.
        dropout: dropout of the transformer layers.
    """

    def __init__(self, in_dim: int, dim: int = 256, num_layers: int = 2, num_heads: int = 4, dropout: float = 0.1):
        super().__init__()
        self.proj = nn.Linear(in_dim, dim)
        self.conv = nn.Conv1d(dim, dim, kernel_size=5, padding=2, groups=dim)
        self.layers = nn.ModuleList(
            nn.TransformerEncoderLayer(
                dim, num_heads, dim_feedforward=4 * dim, dropout=dropout, norm_first=True, batch_first=True
            )
            for _ in range(num_layers)
        )
        self.norm = nn.LayerNorm(dim)
        self.out = nn.Linear(dim, 1 + len(CHARSET))

    def forward(self, frames: Tensor, frame_lengths: Tensor) -> Tensor:
        """frames (B, T, D_a), frame_lengths (B,) -> logits (B, T, 1 + |CHARSET|); padded frames are not attended."""
        is_pad = torch.arange(frames.shape[1], device=frames.device)[None, :] >= frame_lengths[:, None]  # (B, T)
        x = self.proj(frames) * ~is_pad[..., None]  # (B, T, dim), padded frames zeroed as a clip's edge is
        x = x + self.conv(x.transpose(1, 2)).transpose(1, 2)  # (B, T, dim) -> (B, dim, T) -> (B, T, dim)
        for layer in self.layers:
            x = layer(x, src_key_padding_mask=is_pad)
        return self.out(self.norm(x))


def greedy_spelling(logits: Tensor, lengths: Tensor) -> list[str]:
    """Greedy CTC decoding of spelling logits (B, T, C) -> one text per row."""
    texts = []
    for row, length in zip(logits.argmax(dim=-1).tolist(), lengths.tolist(), strict=True):
        row = row[:length]
        labels = [c for i, c in enumerate(row) if c != BLANK and (i == 0 or c != row[i - 1])]
        texts.append(unspell(labels).strip())
    return texts
