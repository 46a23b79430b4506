"""The release's training losses: next-token CE over the spliced sequence, and CTC over the LLM vocabulary."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from soundwave.model.splice import IGNORE_INDEX


def lm_loss(logits: Tensor, labels: Tensor) -> Tensor:
    """Mean next-token cross-entropy. logits (B, L, V), labels (B, L) with IGNORE_INDEX where no loss."""
    shifted = logits[:, :-1].reshape(-1, logits.shape[-1]).float()  # (B, L-1, V) -> (B*(L-1), V)
    return nn.functional.cross_entropy(shifted, labels[:, 1:].reshape(-1), ignore_index=IGNORE_INDEX)


def lm_loss_at_targets(hidden: Tensor, labels: Tensor, head: nn.Module) -> Tensor:
    """`lm_loss` without the (B, L, V) logits: the output head runs only at the positions that have a label.

    Equal to `lm_loss(head(hidden), labels)`; a training step saves the vocabulary-sized matmuls and softmax over
    the prompt and audio positions (most of the sequence).

    Args:
        hidden: (B, L, D) the LLM's last hidden states (after its final norm).
        labels: (B, L) labels aligned with `hidden`, IGNORE_INDEX where no loss.
        head: the LLM's output embedding (D -> V).
    """
    targets = labels[:, 1:]  # (B, L-1): position t predicts label t+1
    has_target = targets != IGNORE_INDEX
    logits = head(hidden[:, :-1][has_target])  # (B, L-1, D) -> (N, D) -> (N, V)
    return nn.functional.cross_entropy(logits.float(), targets[has_target])


def ctc_loss(ctc_logits: Tensor, frame_lengths: Tensor, targets: Tensor, blank_id: int) -> Tensor:
    """CTC over the LLM vocabulary, mean reduction, `zero_infinity` (spec 3.8).

    Args:
        ctc_logits: (B, T, V) logits of the CTC head.
        frame_lengths: (B,) input lengths (750 for every row in the release).
        targets: (B, N) transcript token ids, padded with IGNORE_INDEX (or any negative id).
        blank_id: the blank id (the audio placeholder).
    """
    log_probs = ctc_logits.float().log_softmax(-1).transpose(0, 1)  # (B, T, V) -> (T, B, V)
    is_target = targets >= 0
    target_lengths = is_target.sum(dim=1)
    flat_targets = targets[is_target]  # concatenated targets, the layout ctc_loss accepts for any padding
    return nn.functional.ctc_loss(
        log_probs,
        flat_targets,
        frame_lengths.to(torch.long),
        target_lengths,
        blank=blank_id,
        reduction="mean",
        zero_infinity=True,
    )


def sampled_ctc_vocab(
    targets: Tensor, vocab_size: int, blank_id: int, negatives: int, generator: torch.Generator | None = None
) -> tuple[Tensor, Tensor]:
    """A vocabulary subset for a cheaper CTC loss: the batch's target ids, the blank and `negatives` random ids.

    The CTC head over a 49k vocabulary dominates a stage-1 step; a sampled softmax over the tokens that occur plus
    fresh random negatives every step trains the same head at a fraction of the cost (decoding still uses all).

    Args:
        targets: (B, N) target ids, padded with negative ids.
        vocab_size: V.
        blank_id: the CTC blank, always included.
        negatives: random ids drawn per call (duplicates and targets merge).

    Returns:
        vocab (K,) sorted ids and the targets (B, N) as positions in `vocab` (padding kept negative).
    """
    drawn = torch.randint(0, vocab_size, (negatives,), generator=generator).to(targets.device)
    blank = torch.tensor([blank_id], device=targets.device)
    vocab = torch.unique(torch.cat([targets[targets >= 0], drawn, blank]))  # sorted
    remapped = torch.where(targets >= 0, torch.searchsorted(vocab, targets.clamp(min=0)), targets)
    return vocab, remapped
