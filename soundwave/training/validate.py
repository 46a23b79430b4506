"""Validation during training: mean losses over the eval data, and greedy-CTC WER when a CTC head trains."""

from __future__ import annotations

import torch
from torch.utils.data import DataLoader

from soundwave.training.collate import TrainingCollator


@torch.no_grad()
def validate(objective, core, eval_data, collator: TrainingCollator, tcfg, accelerator) -> dict:
    """Mean losses (and `wer` of greedy CTC decoding against the transcripts, for Soundwave models).

    Args:
        objective: the stage's `StageObjective` as the trainer prepared it (DDP / mixed precision); in eval mode
            its CTC is over the whole vocabulary.
        core: the model itself (greedy decoding of its CTC and spelling heads).
        eval_data: the eval batches; collator: the training collator; tcfg: the training config.
        accelerator: the run's accelerator (the device).
    """
    from soundwave.eval.metrics import wer  # the eval package (jiwer, sacrebleu): only when a run validates
    from soundwave.eval.normalize import normalize_text

    weights = tcfg.loss_weights
    objective.eval()
    loader = DataLoader(eval_data.dataset, batch_sampler=eval_data.batches, collate_fn=collator)
    totals: dict[str, float] = {}
    batches, references, hypotheses, spelled = 0, [], [], []
    tokenizer = collator.processor.tokenizer
    for index, batch in enumerate(loader):
        if tcfg.max_eval_batches is not None and index >= tcfg.max_eval_batches:
            break
        batch = batch.to(accelerator.device)
        for key, value in objective(batch).parts.items():
            totals[key] = totals.get(key, 0.0) + value
        batches += 1
        if weights.ctc > 0 and hasattr(core, "greedy_ctc_ids") and batch.audios is not None:
            decoded = core.greedy_ctc_ids(batch.audios, batch.audio_lengths)
            for ids, reference in zip(decoded, batch.transcripts, strict=True):
                if reference:
                    references.append(normalize_text(reference))
                    hypotheses.append(normalize_text(tokenizer.decode(ids, skip_special_tokens=True)))
        if weights.spelling > 0 and getattr(core, "spelling_head", None) is not None and batch.audios is not None:
            texts = core.spelling_texts(batch.audios, batch.audio_lengths)
            spelled += [
                (normalize_text(r), normalize_text(h)) for h, r in zip(texts, batch.transcripts, strict=True) if r
            ]
    result = {key: value / max(batches, 1) for key, value in totals.items()}
    if references:
        result["wer"] = wer(references, hypotheses)
    if spelled:
        result["spelling_wer"] = wer([r for r, _ in spelled], [h for _, h in spelled])
    return result
