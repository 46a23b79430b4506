"""The release's training losses: next-token CE over the spliced sequence, and CTC over the LLM vocabulary.

`forward` returns them (CE + ctc_weight x CTC); the training stages compose the same functions in
`soundwave.training.losses`.
"""

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


def ctc_rows(
    windows_per_item: Tensor | None, has_transcript: Tensor | None, n_audio: int, device: torch.device | str
) -> tuple[Tensor, Tensor]:
    """Indices of the (windows, targets) that take part in a CTC loss: single-window audios with a transcript.

    A transcript belongs to a whole recording; split into windows it has no per-window target, so such
    recordings are left out of the CTC loss.

    Args:
        windows_per_item: (N,) windows per audio (None: one each).
        has_transcript: (N,) bool, which audios count (None: all).
        n_audio: N.
        device: where the indices go.

    Returns:
        window indices (N',) into the (W, ...) per-window tensors and target indices (N',) into the (N, ...) ones.
    """
    counts = windows_per_item if windows_per_item is not None else torch.ones(n_audio, dtype=torch.long)
    counts = counts.to(device)
    first_window = torch.cumsum(counts, 0) - counts  # (N,)
    allowed = counts == 1
    if has_transcript is not None:
        allowed &= has_transcript.to(device).bool()
    targets = allowed.nonzero(as_tuple=True)[0]
    return first_window[targets], targets


def audio_ctc_loss(
    ctc_logits: Tensor,
    ctc_lengths: Tensor,
    targets: Tensor,
    blank_id: int,
    windows_per_item: Tensor | None = None,
    has_transcript: Tensor | None = None,
) -> Tensor | None:
    """`ctc_loss` of the alignment adapter's CTC head over the audios `ctc_rows` selects (None if there are none).

    Args:
        ctc_logits: (W, T', V) CTC logits per window.
        ctc_lengths: (W,) valid T' per window.
        targets: (N, S) transcript ids per audio, padded with IGNORE_INDEX.
        blank_id: the CTC blank (the audio placeholder).
        windows_per_item: (N,) windows per audio (None: one each).
        has_transcript: (N,) bool, which audios count (None: all).
    """
    windows, rows = ctc_rows(windows_per_item, has_transcript, targets.shape[0], ctc_logits.device)
    if windows.numel() == 0:
        return None
    if windows.numel() < ctc_logits.shape[0]:  # a subset: copy those rows (all rows: no vocabulary-sized copy)
        ctc_logits, ctc_lengths = ctc_logits[windows], ctc_lengths[windows]
    return ctc_loss(ctc_logits, ctc_lengths, targets[rows], blank_id=blank_id)
