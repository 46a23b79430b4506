"""Training losses: stage-1 CTC over a sampled vocabulary, the LM loss only at the labels, CTC over some rows."""

import pytest
import torch

from soundwave.model.losses import ctc_loss, lm_loss, lm_loss_at_targets, sampled_ctc_vocab
from soundwave.model.splice import IGNORE_INDEX

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


def test_lm_loss_at_targets_equals_lm_loss_and_its_gradient():
    torch.manual_seed(0)
    head = torch.nn.Linear(16, VOCAB, bias=False)
    hidden = torch.randn(3, 9, 16, requires_grad=True)
    labels = torch.full((3, 9), IGNORE_INDEX)
    labels[0, 4:] = torch.randint(0, VOCAB, (5,))
    labels[1, 7:] = torch.randint(0, VOCAB, (2,))
    labels[2, 2:6] = torch.randint(0, VOCAB, (4,))  # right padding after the answer
    full = lm_loss(head(hidden), labels)
    (full_grad,) = torch.autograd.grad(full, hidden)
    fast = lm_loss_at_targets(hidden, labels, head)
    (fast_grad,) = torch.autograd.grad(fast, hidden)
    assert float(fast.detach()) == pytest.approx(float(full.detach()), rel=1e-6)
    assert torch.allclose(fast_grad, full_grad, atol=1e-7)
    assert fast_grad[:, -1].abs().sum() == 0  # the last position predicts nothing


def test_model_ctc_over_a_subset_of_rows_equals_those_rows_alone(reference_model, expected):
    model = reference_model
    frames = torch.randn(2, 60, model.config.audio_config.d_model)
    lengths = torch.tensor([60, 44])
    targets = expected["train.asr_targets"]
    with torch.no_grad():
        both = model(encoder_frames=(frames, lengths), asr_targets=targets).loss
        first = model(encoder_frames=(frames[:1], lengths[:1]), asr_targets=targets[:1]).loss
        masked = model(encoder_frames=(frames, lengths), asr_targets=targets, ctc_mask=torch.tensor([True, False]))
    assert float(masked.loss) == pytest.approx(float(first), rel=1e-6)
    assert float(masked.loss) != pytest.approx(float(both), rel=1e-3)
