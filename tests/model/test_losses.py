"""Stage-1 CTC over a sampled vocabulary: what it keeps; the full loss when nothing is left out."""

import pytest
import torch

from soundwave.model.losses import ctc_loss, sampled_ctc_vocab

BLANK = 40
VOCAB = 41


def test_sampled_vocab_keeps_targets_and_blank_and_remaps():
    targets = torch.tensor([[3, 17, 3, -100], [25, 9, -100, -100]])
    vocab, remapped = sampled_ctc_vocab(targets, VOCAB, BLANK, negatives=5, generator=torch.Generator().manual_seed(0))
    assert torch.equal(vocab, torch.sort(vocab).values) and len(set(vocab.tolist())) == len(vocab)
    assert {3, 17, 25, 9, BLANK} <= set(vocab.tolist())
    assert len(vocab) <= 5 + 5  # four distinct targets + blank + at most five negatives
    real = targets >= 0
    assert torch.equal(vocab[remapped[real]], targets[real])
    assert torch.equal(remapped[~real], targets[~real])  # padding stays padding


def test_sampled_loss_is_a_lower_bound_and_exact_with_the_whole_vocab():
    torch.manual_seed(0)
    logits = torch.randn(2, 30, VOCAB)
    lengths = torch.tensor([30, 22])
    targets = torch.tensor([[3, 17, 3, 8], [25, 9, -100, -100]])
    full = ctc_loss(logits, lengths, targets, BLANK)
    vocab, remapped = sampled_ctc_vocab(targets, VOCAB, BLANK, negatives=3, generator=torch.Generator().manual_seed(1))
    blank = int(torch.searchsorted(vocab, torch.tensor(BLANK)))
    sampled = ctc_loss(logits[..., vocab], lengths, remapped, blank)
    assert sampled < full  # fewer competitors: every path gets likelier
    everything = torch.arange(VOCAB)
    assert ctc_loss(logits[..., everything], lengths, targets, BLANK) == pytest.approx(float(full))


@torch.no_grad()
def test_model_stage1_sampled_ctc_equals_full_when_every_id_is_drawn(reference_model, expected):
    model = reference_model
    frames = torch.randn(2, 60, model.config.audio_config.d_model)
    lengths = torch.tensor([60, 44])
    targets = expected["train.asr_targets"]
    inputs = {"encoder_frames": (frames, lengths), "asr_targets": targets}
    full = model(**inputs).loss
    torch.manual_seed(0)
    sampled = model(**inputs, ctc_negatives=50 * model.align_adapter.ctc_head.weight.shape[0]).loss
    assert float(sampled) == pytest.approx(float(full), rel=1e-5)
    few = model(**inputs, ctc_negatives=8).loss
    assert float(few) < float(full)
