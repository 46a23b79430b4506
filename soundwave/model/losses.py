"""The release's training losses: next-token CE over the spliced sequence, and CTC over the LLM vocabulary."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from soundwave.model.splice import IGNORE_INDEX


def lm_loss(logits: Tensor, labels: Tensor) -> Tensor:
    """Mean next-token cross-entropy. logits (B, L, V), labels (B, L) with IGNORE_INDEX where no loss."""
    shifted = logits[:, :-1].reshape(-1, logits.shape[-1]).float()  # (B, L-1, V) -> (B*(L-1), V)
    return nn.functional.cross_entropy(shifted, labels[:, 1:].reshape(-1), ignore_index=IGNORE_INDEX)


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
