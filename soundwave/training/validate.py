"""Validation during training: mean losses over the eval data, and greedy-CTC WER when a CTC head trains.

With several processes each validates its share of the eval batches and the results are pooled: the mean over
all batches, the WER over all transcripts.
"""

from __future__ import annotations

import torch
from torch.utils.data import DataLoader

from soundwave.training.collate import TrainingCollator
from soundwave.training.distributed import gather_objects


@torch.no_grad()
def validate(objective, core, eval_data, collator: TrainingCollator, tcfg, accelerator) -> dict:
    """Mean losses (and `wer` of greedy CTC decoding against the transcripts, for Soundwave models).

    Args:
        objective: the stage's `StageObjective` as the trainer prepared it; in eval mode its CTC is over the whole
            vocabulary. Its DDP wrapper is taken off (mixed precision kept): processes may hold different numbers
            of eval batches, and DDP's forward would wait for the others to sync buffers.
        core: the model itself (greedy decoding of its CTC and spelling heads).
        eval_data: the eval batches; collator: the training collator; tcfg: the training config.
        accelerator: the run's accelerator (the device).
    """
    from soundwave.eval.metrics import wer  # the eval package (jiwer, sacrebleu): only when a run validates
    from soundwave.eval.normalize import normalize_text

    weights = tcfg.loss_weights
    objective = accelerator.unwrap_model(objective)  # keep_fp32_wrapper: autocast stays
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
    # each process validated its share of the batches: pool them (every process gets the same result)
    shards = gather_objects((totals, batches, references, hypotheses, spelled))
    totals = {key: sum(shard[0].get(key, 0.0) for shard in shards) for key in {k for shard in shards for k in shard[0]}}
    batches = sum(shard[1] for shard in shards)
    references, hypotheses = [r for shard in shards for r in shard[2]], [h for shard in shards for h in shard[3]]
    spelled = [pair for shard in shards for pair in shard[4]]
    result = {key: value / max(batches, 1) for key, value in sorted(totals.items())}
    if references:
        result["wer"] = wer(references, hypotheses)
    if spelled:
        result["spelling_wer"] = wer([r for r, _ in spelled], [h for _, h in spelled])
    return result
