"""Splice variable-length audio embeddings into the text sequence, in place of each row's one placeholder.

Rows change length by different amounts, so the result is re-padded (left for generation, right for training).
Positions are plain 0..L'-1 over each row's expanded sequence, after any left padding (spec 3.5); the attention
mask says which keys may be attended (padding never; `<|eot_id|>` keys not either when the release's masking is
on, spec 3.7).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

IGNORE_INDEX = -100  # label of positions that carry no loss


@dataclass(frozen=True)
class SplicedInputs:
    embeds: Tensor  # (B, L, D)
    attention_mask: Tensor  # (B, L) long: 1 = key may be attended
    position_ids: Tensor  # (B, L) long: 0.. over each row's tokens
    labels: Tensor | None  # (B, L): IGNORE_INDEX on audio, prompt and padding
    lengths: Tensor  # (B,) tokens per row (padding excluded)


def splice_audio(
    text_embeds: Tensor,
    input_ids: Tensor,
    attention_mask: Tensor,
    audio_embeds: Tensor,
    audio_lengths: Tensor,
    placeholder_id: int,
    labels: Tensor | None = None,
    masked_key_id: int | None = None,
    padding_side: str = "right",
    audios_per_row: Tensor | None = None,
) -> SplicedInputs:
    """Replace each row's placeholder(s) with that row's audio embeddings.

    Every token stays where it is, as in the release: padding and `<|eot_id|>` tokens are kept in the sequence
    and only masked as keys. Leading zeros of `attention_mask` are left padding: positions start after them.

    Args:
        text_embeds: (B, S, D) embeddings of `input_ids`.
        input_ids: (B, S) token ids, left- or right-padded.
        attention_mask: (B, S) 1 for tokens that may be attended, 0 for padding.
        audio_embeds: (N, K, D) audio vectors, entry j valid up to `audio_lengths[j]`; entries ordered row by row.
        audio_lengths: (N,) valid audio vectors per entry.
        placeholder_id: id of the audio placeholder token.
        labels: (B, S) training labels aligned with `input_ids`, or None.
        masked_key_id: a token id whose keys are masked out of attention (the release's `<|eot_id|>`), or None
            to attend to every token inside the row's span (the release's GPU behaviour).
        padding_side: side to pad the spliced rows on: "right" (training) or "left" (generation).
        audios_per_row: (B,) audio entries (= placeholders) per row; None means exactly one each (N = B).

    Returns:
        SplicedInputs, rows padded to the longest.

    Raises:
        ValueError: naming the row, if a row's placeholder count differs from its audio count.
    """
    if audios_per_row is None:
        audios_per_row = torch.ones(input_ids.shape[0], dtype=torch.long)
    counts = [int(c) for c in audios_per_row.tolist()]
    places = placeholder_positions(input_ids, placeholder_id, counts)
    keys = key_mask(input_ids, attention_mask, masked_key_id)
    lead = leading_padding(attention_mask)
    rows, entry = [], 0
    for row, row_places in enumerate(places):
        pieces, key_pieces, label_pieces, start = [], [], [], 0
        for place in row_places:
            n_audio = int(audio_lengths[entry])
            pieces += [text_embeds[row, start:place], audio_embeds[entry, :n_audio]]
            key_pieces += [keys[row, start:place], keys.new_ones(n_audio)]
            if labels is not None:
                label_pieces += [labels[row, start:place], labels.new_full((n_audio,), IGNORE_INDEX)]
            start, entry = place + 1, entry + 1
        pieces.append(text_embeds[row, start:])
        key_pieces.append(keys[row, start:])
        embeds = torch.cat(pieces)
        positions = (torch.arange(embeds.shape[0], device=embeds.device) - int(lead[row])).clamp(min=0)
        row_labels = torch.cat(label_pieces + [labels[row, start:]]) if labels is not None else None
        rows.append((embeds, torch.cat(key_pieces), positions, row_labels))
    return _pad_rows(rows, padding_side, with_labels=labels is not None)


def placeholder_positions(input_ids: Tensor, placeholder_id: int, counts: list[int]) -> list[list[int]]:
    """The placeholder indices of each row.

    Raises:
        ValueError: naming the row, if a row does not hold exactly its expected number of placeholders.
    """
    found = []
    for row in range(input_ids.shape[0]):
        (where,) = (input_ids[row] == placeholder_id).nonzero(as_tuple=True)
        if where.numel() != counts[row]:
            raise ValueError(
                f"row {row}: expected exactly {counts[row]} audio placeholder{'s' * (counts[row] != 1)}, "
                f"found {where.numel()}"
            )
        found.append(where.tolist())
    return found


def leading_padding(attention_mask: Tensor) -> Tensor:
    """(B, S) mask -> (B,) number of zeros before each row's first attended token (left padding)."""
    return (attention_mask.cumsum(dim=1) == 0).sum(dim=1)


def key_mask(input_ids: Tensor, attention_mask: Tensor, masked_key_id: int | None) -> Tensor:
    """(B, S) long mask of the keys that may be attended.

    With `masked_key_id`, the caller's mask and every key of that id are masked (the release, spec 3.7). Without
    it, every token between a row's first and last attended token is attended (the release's GPU path, which
    loses the mask), only the padding at either end is not.
    """
    if masked_key_id is not None:
        return (attention_mask.bool() & (input_ids != masked_key_id)).long()
    seen = attention_mask.cumsum(dim=1) > 0
    seen_from_end = attention_mask.flip(1).cumsum(dim=1).flip(1) > 0
    return (seen & seen_from_end).long()


def _pad_rows(rows: list, padding_side: str, with_labels: bool) -> SplicedInputs:
    lengths = [r[0].shape[0] for r in rows]
    width, batch = max(lengths), len(rows)
    ref = rows[0][0]
    embeds = ref.new_zeros(batch, width, ref.shape[-1])
    mask = torch.zeros(batch, width, dtype=torch.long, device=ref.device)
    positions = torch.zeros(batch, width, dtype=torch.long, device=ref.device)
    labels = torch.full((batch, width), IGNORE_INDEX, dtype=torch.long, device=ref.device) if with_labels else None
    for i, (row_embeds, row_keys, row_positions, row_labels) in enumerate(rows):
        n = lengths[i]
        span = slice(width - n, width) if padding_side == "left" else slice(0, n)
        embeds[i, span] = row_embeds
        mask[i, span] = row_keys
        positions[i, span] = row_positions
        if labels is not None:
            labels[i, span] = row_labels
    return SplicedInputs(embeds, mask, positions, labels, torch.tensor(lengths, device=ref.device))
