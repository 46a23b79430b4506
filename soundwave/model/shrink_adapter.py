"""Shrinking adapter (paper stage 2): keep one vector per CTC peak, then let it look back at the full sequence.

    aligned (B, T, D), CTC tokens (B, T) --ctc_keep_mask--> keep (B, T) --gather_kept--> queries (B, K, D)
    queries, aligned --LookBack (cross-attention + residual + LayerNorm)--> audio embeds (B, K, D)

The release keeps the first frame of every run of equal labels, blank runs included, and its look-back attends
only to the kept frames (spec sections 3.3 and 3.4). The paper drops blank runs and looks back at every frame.

Ours, optional (`posterior_embeds`): each kept vector becomes the LLM's own embedding of what CTC heard there,
plus a gated look-back (`PosteriorMix`), so an LLM reads the peaks as text from the first SFT step:

    CTC logits (B, T, V) at the kept frames --softmax--> p (B, K, V) --@ LLM embeddings (V, D)--> text (B, K, D)
    audio embeds = text + gate (D,) * look-back (B, K, D)                                (gate starts at 0)
"""

from __future__ import annotations

import torch
from torch import Tensor, nn


def ctc_keep_mask(tokens: Tensor, lengths: Tensor, blank_id: int, drop_blanks: bool) -> Tensor:
    """Mark the first frame of every run of equal CTC labels.

    Args:
        tokens: (B, T) argmax of the CTC head per frame.
        lengths: (B,) valid frames per row; frames past it are never kept.
        blank_id: the CTC blank id.
        drop_blanks: False keeps blank runs too (the release); True keeps non-blank runs only (the paper).

    Returns:
        (B, T) bool mask of kept frames.
    """
    starts_run = torch.ones_like(tokens, dtype=torch.bool)
    starts_run[:, 1:] = tokens[:, 1:] != tokens[:, :-1]
    is_valid = torch.arange(tokens.shape[1], device=tokens.device)[None, :] < lengths[:, None]
    keep = starts_run & is_valid
    if drop_blanks:
        keep &= tokens != blank_id
    return keep


def gather_kept(aligned: Tensor, keep: Tensor) -> tuple[Tensor, Tensor]:
    """Pack each row's kept frames to the front, in order, zero-padded to the longest row.

    Args:
        aligned: (B, T, D) frames.
        keep: (B, T) bool mask.

    Returns:
        kept (B, K, D) with K = max kept per row, and kept_lengths (B,).
    """
    kept_lengths = keep.sum(dim=1)
    max_kept = int(kept_lengths.max()) if keep.numel() else 0
    # stable sort puts kept frames first in their original order
    order = torch.sort((~keep).to(torch.int8), dim=1, stable=True).indices[:, :max_kept]  # (B, K)
    kept = torch.gather(aligned, 1, order[..., None].expand(-1, -1, aligned.shape[-1]))  # (B, K, D)
    is_kept = torch.arange(max_kept, device=aligned.device)[None, :] < kept_lengths[:, None]
    return kept * is_kept[..., None], kept_lengths


class LookBack(nn.Module):
    """Kept frames attend back to the frame sequence: LayerNorm(q + MultiheadAttention(q, frames, frames))."""

    def __init__(self, dim: int, num_heads: int, dropout: float = 0.1) -> None:
        super().__init__()
        self.attn = nn.MultiheadAttention(dim, num_heads, dropout=dropout, batch_first=True)
        self.norm = nn.LayerNorm(dim)

    def forward(self, queries: Tensor, frames: Tensor, key_is_pad: Tensor) -> Tensor:
        """queries (B, K, D); frames (B, T, D); key_is_pad (B, T) True where a frame may not be attended."""
        if queries.shape[1] == 0:
            return queries
        attended, _ = self.attn(queries, frames, frames, key_padding_mask=key_is_pad, need_weights=False)
        return self.norm(queries + attended)


def expected_embeddings(ctc_logits: Tensor, keep: Tensor, rows: Tensor) -> Tensor:
    """The LLM embedding CTC expects at each kept frame: softmax(logits) @ rows, packed like `gather_kept`.

    Args:
        ctc_logits: (B, T, V) CTC logits.
        keep: (B, T) bool mask of kept frames.
        rows: (V, D) the LLM's input embeddings.

    Returns:
        (B, K, D), zero past each row's kept frames.
    """
    kept_logits, kept_lengths = gather_kept(ctc_logits, keep)  # (B, K, V)
    text = kept_logits.float().softmax(dim=-1).to(rows.dtype) @ rows  # (B, K, V) @ (V, D) -> (B, K, D)
    is_kept = torch.arange(text.shape[1], device=text.device)[None, :] < kept_lengths[:, None]  # (B, K)
    return text * is_kept[..., None]


class PosteriorMix(nn.Module):
    """text + gate * look-back, the gate (D,) starting at zero: at first the LLM sees only its own embeddings."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.gate = nn.Parameter(torch.zeros(dim))

    def reset_parameters(self) -> None:
        nn.init.zeros_(self.gate)

    def forward(self, text: Tensor, looked_back: Tensor) -> Tensor:
        """text, looked_back (B, K, D) -> (B, K, D)."""
        return text + self.gate * looked_back


class ShrinkAdapter(nn.Module):
    """CTC-peak selection + look-back: aligned (B, T, D) -> audio embeds (B, K, D) and their lengths (B,).

    With `posterior_embeds`, forward needs the CTC logits and the LLM's input embeddings (`PosteriorMix`).
    """

    def __init__(
        self, dim: int, num_heads: int, dropout: float = 0.1, paper: bool = False, posterior_embeds: bool = False
    ) -> None:
        super().__init__()
        self.paper = paper
        self.lookback = LookBack(dim, num_heads, dropout)
        self.mix = PosteriorMix(dim) if posterior_embeds else None

    def forward(
        self,
        aligned: Tensor,
        tokens: Tensor,
        lengths: Tensor,
        blank_id: int,
        ctc_logits: Tensor | None = None,
        text_rows: Tensor | None = None,
    ) -> tuple[Tensor, Tensor, Tensor]:
        """Returns audio embeds (B, K, D), their lengths (B,), and the keep mask (B, T)."""
        keep = ctc_keep_mask(tokens, lengths, blank_id, drop_blanks=self.paper)
        queries, kept_lengths = gather_kept(aligned, keep)
        if self.paper:  # look back at every valid frame (the paper)
            key_is_pad = torch.arange(aligned.shape[1], device=aligned.device)[None, :] >= lengths[:, None]
        else:  # look back at the kept frames only (the release: key_padding_mask=~kept)
            key_is_pad = ~keep
        embeds = self.lookback(queries, aligned, key_is_pad)
        if self.mix is not None:
            if ctc_logits is None or text_rows is None:
                raise ValueError("a posterior_embeds shrinking adapter needs ctc_logits and text_rows")
            embeds = self.mix(expected_embeddings(ctc_logits, keep, text_rows), embeds)
        return embeds, kept_lengths, keep
