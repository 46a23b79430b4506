"""Each stage's training loss, computed from the model's named parts rather than through `forward`.

    stage 1 (lm = 0)   encoder frames -> alignment adapter -> CTC head: CTC on the transcript, over the whole
                       vocabulary or a sampled one (`training.ctc_negatives`); the LLM never runs
    stages 2 and 3     encoder frames -> adapters -> splice -> LLM: CE on the answer, the output head run only
                       where a label is (`lm_loss_at_targets`); + CTC of the alignment adapter, as above
    any stage          + the spelling head's character CTC (models with one)

Encoder frames come from the trainer's cache when it has them. Each loss weight has one source: training reads
`training.loss_weights` (`LossWeights`) and nothing else. The model config's `ctc_weight` (the release's 0.3)
only weights the loss `forward` returns when called the release's way, which training does not call.
"""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch import Tensor, nn

from soundwave.model.losses import audio_ctc_loss, ctc_loss, ctc_rows
from soundwave.model.soundwave import AudioEncoding, SoundwaveForCausalLM
from soundwave.model.spelling import BLANK as SPELLING_BLANK
from soundwave.model.splice import IGNORE_INDEX
from soundwave.training.collate import TrainBatch
from soundwave.training.config import LossWeights
from soundwave.training.distributed import global_means, world_size


class StageLoss(NamedTuple):
    total: Tensor  # () the weighted sum to back-propagate
    parts: dict[str, float]  # each loss that counted, and `loss` (the total), for the logs


class StageObjective(nn.Module):
    """The loss of one training stage around a model: what the trainer hands to accelerate, so that DDP and mixed
    precision (which wrap a module's `forward`) cover the whole loss computation.

    Args:
        model: a SoundwaveForCausalLM or a SpeechLLM (`self.model`).
        weights: the stage's loss weights.
        ctc_negatives: stage 1: CTC over the batch's tokens + blank + this many random ids per step (0: the whole
            vocabulary). Training only: in eval mode (validation) the CTC is over the whole vocabulary.
    """

    def __init__(self, model: nn.Module, weights: LossWeights, ctc_negatives: int = 0) -> None:
        super().__init__()
        self.model = model
        self.weights = weights
        self.ctc_negatives = ctc_negatives

    def forward(self, batch: TrainBatch, frames: tuple[Tensor, Tensor] | None = None) -> StageLoss:
        """batch -> the weighted loss; `frames`: cached (frames (W, T, D_a), frame_lengths (W,)) of the encoder."""
        if isinstance(self.model, SoundwaveForCausalLM):
            negatives = self.ctc_negatives if self.training else 0
            losses = soundwave_losses(self.model, batch, self.weights, frames, negatives)
        else:
            losses = {"ce_loss": speechllm_loss(self.model, batch)}
        if self.training and world_size() > 1:  # data-parallel: the global batch's means (validation stays local)
            shares, means = global_means(losses, loss_units(batch))
            return weigh_losses(losses, self.weights, self.model, shares, means)
        return weigh_losses(losses, self.weights, self.model)


def soundwave_losses(
    model: SoundwaveForCausalLM,
    batch: TrainBatch,
    weights: LossWeights,
    frames: tuple[Tensor, Tensor] | None = None,
    ctc_negatives: int = 0,
) -> dict[str, Tensor]:
    """The losses `weights` asks for (`ce_loss`, `ctc_loss`, `spelling_loss`); one with nothing to score (no audio,
    no transcript) is left out. CTC counts the single-window audios with a transcript (`batch.has_transcript`)."""
    if frames is None and batch.audios is not None:
        frames = model.encode_frames(batch.audios, batch.audio_lengths)  # (W, T, D_a)
    losses: dict[str, Tensor | None] = {}
    if weights.lm > 0:
        if frames is not None:
            audio = model.adapt_frames(*frames, batch.windows_per_item)  # cached frames enter here
        else:
            audio = model.empty_audio_encoding()
        losses["ce_loss"] = answer_loss(
            model, audio, batch.input_ids, batch.attention_mask, batch.labels, batch.audios_per_row
        )
        if weights.ctc > 0 and frames is not None:
            losses["ctc_loss"] = audio_ctc_loss(
                audio.ctc_logits,
                audio.ctc_lengths,
                batch.asr_targets,
                model.blank_id,
                batch.windows_per_item,
                batch.has_transcript,
            )
    elif weights.ctc > 0 and frames is not None:  # stage 1: the LLM never runs
        losses["ctc_loss"] = alignment_ctc_loss(
            model, *frames, batch.asr_targets, batch.windows_per_item, batch.has_transcript, ctc_negatives
        )
    if weights.spelling > 0 and frames is not None and model.spelling_head is not None:
        losses["spelling_loss"] = spelling_loss(
            model, *frames, batch.spelling_targets, batch.windows_per_item, batch.has_transcript
        )
    return {name: loss for name, loss in losses.items() if loss is not None}


def answer_loss(
    model: nn.Module,
    audio: AudioEncoding,
    input_ids: Tensor,
    attention_mask: Tensor,
    labels: Tensor,
    audios_per_row: Tensor | None = None,
) -> Tensor:
    """`forward`'s `ce_loss` without its (B, L, V) logits: the LLM's output head runs only where a label is.

    Args:
        model: a SoundwaveForCausalLM or a SpeechLLM (both `splice` audio into the prompt and hold the `llm`).
        audio: the batch's audio (`encode_audio` / `adapt_frames`).
        input_ids: (B, S) prompt + answer ids; attention_mask: (B, S); labels: (B, S), IGNORE_INDEX on the prompt.
        audios_per_row: (B,) audios per row (None: one each).
    """
    inputs = model.splice(input_ids, attention_mask, audio, labels=labels, audios_per_row=audios_per_row)
    out = model.llm(
        inputs_embeds=inputs.embeds,
        attention_mask=inputs.attention_mask,
        position_ids=inputs.position_ids,
        logits_to_keep=1,  # the loss reads the hidden states
        output_hidden_states=True,
    )
    return lm_loss_at_targets(out.hidden_states[-1], inputs.labels, model.llm.get_output_embeddings())


def alignment_ctc_loss(
    model: SoundwaveForCausalLM,
    frames: Tensor,
    frame_lengths: Tensor,
    targets: Tensor,
    windows_per_item: Tensor | None = None,
    has_transcript: Tensor | None = None,
    negatives: int = 0,
) -> Tensor | None:
    """Stage 1: the alignment adapter's CTC on encoder frames, the LLM unused (None if no audio counts).

    Args:
        model: the model.
        frames: (W, T, D_a) encoder frames; frame_lengths: (W,) valid T per window.
        targets: (N, S) transcript ids per audio, IGNORE_INDEX-padded.
        windows_per_item: (N,) windows per audio (None: one each); has_transcript: (N,) which audios count.
        negatives: > 0: over a sampled vocabulary (`sampled_ctc_loss`); 0: over the whole vocabulary.
    """
    if negatives:
        return sampled_ctc_loss(model, frames, frame_lengths, targets, windows_per_item, has_transcript, negatives)
    _, ctc_logits, ctc_lengths = model.align(frames, frame_lengths)  # (W, T', V)
    return audio_ctc_loss(ctc_logits, ctc_lengths, targets, model.blank_id, windows_per_item, has_transcript)


def sampled_ctc_loss(
    model: SoundwaveForCausalLM,
    frames: Tensor,
    frame_lengths: Tensor,
    targets: Tensor,
    windows_per_item: Tensor | None,
    has_transcript: Tensor | None,
    negatives: int,
) -> Tensor | None:
    """`alignment_ctc_loss` over the batch's target ids + the blank + `negatives` random ids (`sampled_ctc_vocab`)."""
    adapter = model.align_adapter
    aligned, ctc_lengths = adapter.embed(frames.to(model.dtype), frame_lengths)  # (W, T', D)
    windows, rows = ctc_rows(windows_per_item, has_transcript, targets.shape[0], aligned.device)
    if windows.numel() == 0:
        return None
    vocab, remapped = sampled_ctc_vocab(targets[rows], adapter.ctc_head.weight.shape[0], model.blank_id, negatives)
    logits = adapter.logits_over(aligned[windows], vocab)  # (N', T', K)
    blank = int(torch.searchsorted(vocab, torch.tensor(model.blank_id, device=vocab.device)))
    return ctc_loss(logits, ctc_lengths[windows], remapped, blank_id=blank)


def spelling_loss(
    model: SoundwaveForCausalLM,
    frames: Tensor,
    frame_lengths: Tensor,
    targets: Tensor,
    windows_per_item: Tensor | None = None,
    has_transcript: Tensor | None = None,
) -> Tensor | None:
    """The spelling head's character CTC over the audios the token CTC would score (None if none counts).

    Args:
        frames: (W, T, D_a) encoder frames; frame_lengths: (W,).
        targets: (N, C) spelling labels per audio (`spell`), IGNORE_INDEX-padded.
    """
    windows, rows = ctc_rows(windows_per_item, has_transcript, targets.shape[0], frames.device)
    if windows.numel() == 0:
        return None
    logits = model.spelling_logits(frames[windows], frame_lengths[windows])  # (N', T, C)
    return ctc_loss(logits, frame_lengths[windows], targets[rows], blank_id=SPELLING_BLANK)


def speechllm_loss(model: nn.Module, batch: TrainBatch) -> Tensor:
    """A SpeechLLM's next-token CE on the answer: its `forward`'s loss, the output head only where a label is
    (`answer_loss`), as Soundwave's stages compute theirs."""
    audio = model.encode_audio(batch.audios, batch.audio_lengths, batch.windows_per_item)
    return answer_loss(model, audio, batch.input_ids, batch.attention_mask, batch.labels, batch.audios_per_row)


def weigh_losses(
    losses: dict[str, Tensor],
    weights: LossWeights,
    model: nn.Module,
    shares: dict[str, float] | None = None,
    means: dict[str, float] | None = None,
) -> StageLoss:
    """The weighted sum of `losses` by `weights`.

    When no trainable parameter takes part (nothing to count, as a text-only batch in stage 1, or only the frozen
    LLM's CE of text-only rows), a zero still tied to the trainable parameters is added, so backward runs and every
    process's backward touches the same ones (DDP).

    Args:
        losses: the batch's mean losses by name.
        weights: the stage's loss weights.
        model: the model (its trainable parameters).
        shares: data-parallel: each loss's factor for DDP's gradient average (`distributed.global_means`).
        means: data-parallel: each loss's global mean, logged instead of this process's.
    """
    factor = {"ce_loss": weights.lm, "ctc_loss": weights.ctc, "spelling_loss": weights.spelling}
    counted = {name: loss for name, loss in losses.items() if factor[name] > 0}
    total = None
    for name, loss in counted.items():
        term = factor[name] * loss * (shares[name] if shares is not None else 1.0)
        total = term if total is None else total + term
    if total is None or not total.requires_grad:
        zero = torch.zeros((), device=next(model.parameters()).device)
        tie = sum((p.sum() * 0.0 for p in model.parameters() if p.requires_grad), zero)
        total = tie if total is None else total.detach() + tie
    if means is None:
        parts = {name: float(loss.detach()) for name, loss in counted.items()}
    else:
        parts = {name: mean for name, mean in means.items() if factor[name] > 0}
    parts["loss"] = sum((factor[name] * value for name, value in parts.items()), 0.0)
    return StageLoss(total, parts)


def loss_units(batch: TrainBatch) -> dict[str, int]:
    """What each loss averages over in `batch`: its answer tokens (`ce_loss`) and the audios the CTC losses score
    (`ctc_rows`), the weights of a global mean over several processes' batches."""
    units = {"ce_loss": int((batch.labels[:, 1:] != IGNORE_INDEX).sum())}
    if batch.audios is not None and batch.asr_targets is not None:
        windows, _ = ctc_rows(batch.windows_per_item, batch.has_transcript, batch.asr_targets.shape[0], "cpu")
        units["ctc_loss"] = units["spelling_loss"] = int(windows.numel())
    return units


# ---- cheaper equivalents of the release's losses -----------------------------------------------------------------
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
