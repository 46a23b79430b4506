"""Alignment adapter (paper stage 1): encoder frames -> LLM space, plus a CTC head over the LLM vocabulary.

    frames (B, T, D_a) --stack 2--> (B, T/2, 2 D_a) --Linear--> --1 transformer layer--> --LayerNorm-->
        aligned (B, T/2, D)                       (+ `num_layers - 1` more layers, ours; the paper has one)
    aligned --Linear(D -> V, no bias)--> CTC logits (B, T/2, V)

The release runs its transformer layer per frame (a `batch_first=False` layer fed `[1, 750, D]` attends over a
sequence of length 1, spec section 3.2); the paper's layer mixes frames in time. `temporal` picks one.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

STACK = 2  # encoder frames stacked into one adapter frame: 50 Hz -> 25 Hz


def stack_frames(frames: Tensor, frame_lengths: Tensor, stack: int = STACK) -> tuple[Tensor, Tensor]:
    """Concatenate each `stack` adjacent frames: row t = concat(frame stack*t, ..., frame stack*t + stack-1).

    Frames past a row's length are zeroed first and the tail is zero-padded to a multiple of `stack`, so a clip
    gives the same stacked frames alone or in a padded batch.

    Args:
        frames: (B, T, D_a) encoder output.
        frame_lengths: (B,) valid frames per row.

    Returns:
        stacked (B, ceil(T / stack), stack * D_a) and its lengths (B,).
    """
    batch, n_frames, dim = frames.shape
    is_valid = torch.arange(n_frames, device=frames.device) < frame_lengths[:, None]  # (B, T)
    frames = frames * is_valid[..., None]
    pad = (-n_frames) % stack
    if pad:
        frames = nn.functional.pad(frames, (0, 0, 0, pad))  # (B, T, D_a) -> (B, T + pad, D_a)
    stacked = frames.reshape(batch, (n_frames + pad) // stack, stack * dim)  # (B, T', stack * D_a)
    return stacked, (frame_lengths + stack - 1) // stack


class AlignAdapter(nn.Module):
    """Stacked frames -> LLM-space vectors `aligned` and CTC logits over the LLM vocabulary.

    Args:
        in_dim: encoder width D_a (the stacked input is `STACK * in_dim`).
        dim: LLM hidden size D.
        num_heads: heads of the transformer layer.
        ffn_dim: FFN width of the transformer layer (the release: 2 D).
        vocab_size: LLM vocabulary incl. the blank / audio placeholder.
        dropout: dropout of the transformer layer (the release: 0.1).
        temporal: True: self-attention over time (paper); False: per-frame, as the release computes.
        num_layers: transformer layers (the paper and the release: 1). Layers after the first are kept apart
            (`more_layers`), so one-layer checkpoints keep their key names; see `start_more_layers_as_identity`.
    """

    def __init__(
        self,
        in_dim: int,
        dim: int,
        num_heads: int,
        ffn_dim: int,
        vocab_size: int,
        dropout: float = 0.1,
        temporal: bool = False,
        num_layers: int = 1,
    ) -> None:
        super().__init__()
        if num_layers < 1:
            raise ValueError(f"the alignment adapter needs at least one transformer layer, got num_layers={num_layers}")
        self.temporal = temporal
        self.proj = nn.Linear(STACK * in_dim, dim)

        def new_layer() -> nn.TransformerEncoderLayer:
            return nn.TransformerEncoderLayer(
                dim, num_heads, dim_feedforward=ffn_dim, dropout=dropout, norm_first=True, batch_first=True
            )

        self.layer = new_layer()
        self.more_layers = nn.ModuleList(new_layer() for _ in range(num_layers - 1))
        self.norm = nn.LayerNorm(dim)
        self.ctc_head = nn.Linear(dim, vocab_size, bias=False)

    def start_more_layers_as_identity(self) -> None:
        """Zero the output projections of `more_layers`: each pre-norm layer then passes its input through, so a
        deeper adapter built on a trained one-layer adapter starts with that adapter's output exactly."""
        with torch.no_grad():
            for layer in self.more_layers:
                for linear in (layer.self_attn.out_proj, layer.linear2):
                    nn.init.zeros_(linear.weight)
                    nn.init.zeros_(linear.bias)

    def forward(self, frames: Tensor, frame_lengths: Tensor, ctc_from: int = 0) -> tuple[Tensor, Tensor, Tensor]:
        """frames (B, T, D_a), frame_lengths (B,) -> aligned (B, T/2, D), CTC logits (B, T/2, V; 0 before frame
        `ctc_from`), lengths (B,)."""
        aligned, lengths = self.embed(frames, frame_lengths)
        return aligned, self.ctc_logits(aligned, lengths, first=ctc_from), lengths

    def ctc_logits(self, aligned: Tensor, lengths: Tensor, first: int = 0) -> Tensor:
        """The CTC head at each row's valid frames from frame `first` on only, 0 elsewhere: aligned (B, T', D) ->
        (B, T', V).

        The head is a projection onto the whole vocabulary (49k-128k ids), the costliest part of the adapter; in a
        batch of clips of different lengths the padding frames would cost as much as speech, and a live stream
        needs no logits for the frames it already settled (`first`).
        """
        frame = torch.arange(aligned.shape[1], device=aligned.device)[None, :]  # (1, T')
        valid = (frame < lengths[:, None]) & (frame >= first)  # (B, T')
        if bool(valid.all()):
            return self.ctc_head(aligned)
        logits = aligned.new_zeros(*aligned.shape[:2], self.ctc_head.out_features)  # (B, T', V)
        logits[valid] = self.ctc_head(aligned[valid])  # (N, D) -> (N, V): the valid frames, packed
        return logits

    def logits_over(self, aligned: Tensor, vocab: Tensor) -> Tensor:
        """CTC logits over a subset of the vocabulary: aligned (B, T', D), vocab (K,) ids -> (B, T', K)."""
        return aligned @ self.ctc_head.weight[vocab].T

    def embed(self, frames: Tensor, frame_lengths: Tensor) -> tuple[Tensor, Tensor]:
        """frames (B, T, D_a) -> aligned (B, T/2, D) and lengths (B,): everything but the CTC head."""
        stacked, lengths = stack_frames(frames, frame_lengths)
        x = self.proj(stacked)  # (B, T', D)
        batch, n_frames, dim = x.shape
        layers = [self.layer, *self.more_layers]
        if self.temporal:
            is_pad = torch.arange(n_frames, device=x.device)[None, :] >= lengths[:, None]  # (B, T')
            for layer in layers:
                x = layer(x, src_key_padding_mask=is_pad)
        else:
            # (B, T', D) -> (B*T', 1, D): every frame is its own length-1 sequence (spec 3.2)
            x = x.reshape(batch * n_frames, 1, dim)
            for layer in layers:
                x = layer(x)
            x = x.reshape(batch, n_frames, dim)  # (B*T', 1, D) -> (B, T', D)
        return self.norm(x), lengths


def reachable_blank_row(token_rows: Tensor, seed: int = 0) -> Tensor:
    """A CTC-head row for the blank that an adapter output can make the top logit: a random direction, twice as
    long as the longest token row (at that direction the blank scores 2 x max norm, every token at most its norm).

    The LLM's row for a newly added token is the mean of the others (transformers' mean resizing): inside the cloud
    of token rows, where no output vector gives it the top logit. With such a frozen blank, CTC can only learn
    blank-free alignments: the first mini adapters, trained with the mean row, packed each clip's tokens into its
    first frames and filled the rest with the final punctuation (experiments/mini/journal.md).

    Args:
        token_rows: (V, D) the CTC head's token rows (the LLM's embeddings).
        seed: the direction's random seed.

    Returns:
        (D,) the blank row.
    """
    generator = torch.Generator().manual_seed(seed)
    direction = torch.randn(token_rows.shape[1], generator=generator, dtype=torch.float32)
    direction = direction / direction.norm()
    return (2 * token_rows.float().norm(dim=1).max() * direction).to(token_rows.dtype)


def ctc_greedy_ids(tokens: Tensor, lengths: Tensor, blank_id: int) -> list[list[int]]:
    """Greedy CTC decoding: collapse repeated labels, then drop blanks.

    Args:
        tokens: (B, T) argmax of the CTC head per frame.
        lengths: (B,) valid frames per row.
        blank_id: the CTC blank id.
    """
    decoded = []
    for row, length in zip(tokens.tolist(), lengths.tolist(), strict=True):
        row = row[:length]
        decoded.append([t for i, t in enumerate(row) if t != blank_id and (i == 0 or t != row[i - 1])])
    return decoded
