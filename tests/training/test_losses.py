"""Training losses: stage 1 without the LLM (sampled-vocabulary CTC too), CE at the answer only, cached frames,
the spelling CTC, the weighted sum from `training.loss_weights`, and a SpeechLLM's loss."""

import numpy as np
import pytest
import torch

from soundwave.data.dataset import Example
from soundwave.data.manifest import Sample
from soundwave.model.builder import build_model
from soundwave.model.losses import ctc_loss, lm_loss
from soundwave.model.splice import IGNORE_INDEX
from soundwave.processor import processor_for
from soundwave.training.collate import TrainingCollator
from soundwave.training.config import LossWeights
from soundwave.training.losses import (
    StageObjective,
    alignment_ctc_loss,
    answer_loss,
    lm_loss_at_targets,
    sampled_ctc_vocab,
    soundwave_losses,
    speechllm_loss,
    weigh_losses,
)
from tests.model.conftest import REFERENCE

BLANK = 40
VOCAB = 41
RELEASE = LossWeights()  # CE + 0.3 x CTC
STAGE1 = LossWeights(ctc=1.0, lm=0.0)


@pytest.fixture(scope="module")
def reference_model():
    from soundwave.model.loading import load_soundwave

    return load_soundwave(REFERENCE / "checkpoint")


@pytest.fixture(scope="module")
def expected() -> dict:
    from safetensors.torch import load_file

    return load_file(str(REFERENCE / "expected.safetensors"))


@pytest.fixture(scope="module")
def tiny(tiny_bases):
    """A tiny paper-mode Soundwave model with a spelling head, and a batch of three clips and a text-only row."""
    model, tokenizer, extractor = build_model(
        str(tiny_bases["encoder"]), str(tiny_bases["llm"]), mode="paper", spelling_head=True
    )
    collator = TrainingCollator(processor_for(model, tokenizer, extractor))
    rng = np.random.default_rng(0)
    waves = [rng.standard_normal(n).astype(np.float32) * 0.1 for n in (16000, 9000, 12000)]
    examples = [
        Example(Sample(f"a{i}", f"a{i}.wav", "Say it.", text, text, "asr"), wave)
        for i, (wave, text) in enumerate(zip(waves, ["hello there", "go", "a cat"], strict=True))
    ]
    examples.append(Example(Sample("t", None, "Hi?", "Hello.", None, "text"), None))
    return model, collator(examples)


# ---- the loss functions ----------------------------------------------------------------------------------------
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


@torch.no_grad()
def test_stage1_sampled_ctc_equals_full_when_every_id_is_drawn(reference_model, expected):
    model = reference_model
    frames = torch.randn(2, 60, model.config.audio_config.d_model)
    lengths = torch.tensor([60, 44])
    targets = expected["train.asr_targets"]
    full = alignment_ctc_loss(model, frames, lengths, targets)
    torch.manual_seed(0)
    sampled = alignment_ctc_loss(
        model, frames, lengths, targets, negatives=50 * model.align_adapter.ctc_head.weight.shape[0]
    )
    assert float(sampled) == pytest.approx(float(full), rel=1e-5)
    few = alignment_ctc_loss(model, frames, lengths, targets, negatives=8)
    assert float(few) < float(full)
    masked = alignment_ctc_loss(model, frames, lengths, targets, has_transcript=torch.tensor([False, False]))
    assert masked is None  # no audio counts: no loss


@torch.no_grad()
def test_answer_loss_is_forwards_ce_without_the_logits(reference_model, expected):
    mel = torch.stack([expected["s0.input_features"], expected["s1.input_features"]])
    ids, labels = expected["train.input_ids"], expected["train.labels"]
    mask = (ids != 4).long()
    out = reference_model(input_ids=ids, attention_mask=mask, audios=mel, labels=labels)
    fast = answer_loss(reference_model, out.audio, ids, mask, labels)
    assert float(fast) == pytest.approx(float(out.ce_loss), rel=1e-5)


# ---- a stage's weighted loss -----------------------------------------------------------------------------------
def test_weights_come_from_loss_weights_alone(tiny):
    model, batch = tiny
    model.eval()
    with torch.no_grad():
        losses = soundwave_losses(model, batch, LossWeights(ctc=0.3, lm=1.0, spelling=0.5))
        total, parts = StageObjective(model, LossWeights(ctc=0.3, lm=1.0, spelling=0.5))(batch)
        release = model(
            input_ids=batch.input_ids,
            attention_mask=batch.attention_mask,
            audios=batch.audios,
            labels=batch.labels,
            asr_targets=batch.asr_targets,
            audio_lengths=batch.audio_lengths,
            windows_per_item=batch.windows_per_item,
            audios_per_row=batch.audios_per_row,
        )
    assert set(losses) == {"ce_loss", "ctc_loss", "spelling_loss"}
    expected_total = losses["ce_loss"] + 0.3 * losses["ctc_loss"] + 0.5 * losses["spelling_loss"]
    assert float(total) == pytest.approx(float(expected_total), rel=1e-6) == parts["loss"]
    # the same CE and CTC as the release's forward: only the weighting is training's
    assert float(losses["ce_loss"]) == pytest.approx(float(release.ce_loss), rel=1e-5)
    assert float(losses["ctc_loss"]) == pytest.approx(float(release.ctc_loss), rel=1e-5)
    model.config.ctc_weight = 0.9  # the config's weight is forward's, never training's
    try:
        with torch.no_grad():  # as above: fused attention's kernels differ (~1e-7) with and without autograd
            again = StageObjective(model, LossWeights(ctc=0.3, lm=1.0, spelling=0.5))(batch)
    finally:
        model.config.ctc_weight = 0.3
    assert again.parts == parts


def test_stage1_never_runs_the_llm_and_cached_frames_give_the_same_loss(tiny, monkeypatch):
    model, batch = tiny
    model.eval()

    def no_llm(*args, **kwargs):
        raise AssertionError("stage 1 ran the LLM")

    monkeypatch.setattr(model.llm, "forward", no_llm)
    with torch.no_grad():
        encoded = StageObjective(model, STAGE1)(batch)
        frames = model.encode_frames(batch.audios, batch.audio_lengths)  # (W, T, D_a), (W,)
        cached = StageObjective(model, STAGE1)(batch, frames)
    assert set(encoded.parts) == {"ctc_loss", "loss"}
    assert encoded.parts == cached.parts


def test_sampled_ctc_is_a_training_economy_validation_uses_the_whole_vocabulary(tiny, monkeypatch):
    from soundwave.training import losses

    model, batch = tiny
    drawn = []
    sampled = losses.sampled_ctc_loss
    monkeypatch.setattr(losses, "sampled_ctc_loss", lambda *args: drawn.append(args[-1]) or sampled(*args))
    objective = StageObjective(model, STAGE1, ctc_negatives=4)
    with torch.no_grad():
        full = StageObjective(model.eval(), STAGE1)(batch).parts["ctc_loss"]
        assert objective.eval()(batch).parts["ctc_loss"] == full and drawn == []
        objective.train()(batch)
    model.eval()
    assert drawn == [4]


def test_a_batch_with_nothing_to_score_gives_a_zero_tied_to_the_trainable_weights(tiny):
    model, batch = tiny
    total, parts = weigh_losses({}, STAGE1, model)
    assert float(total.detach()) == 0.0 and parts == {"loss": 0.0}
    total.backward()
    grads = [p.grad for p in model.parameters() if p.requires_grad]
    assert grads and all(g is not None and not g.any() for g in grads)
    model.zero_grad(set_to_none=True)


def test_a_speechllm_trains_on_its_lm_loss(tiny_bases):
    model, tokenizer, extractor = build_model(
        str(tiny_bases["encoder"]), str(tiny_bases["llm"]), adapter="speechllm", projector_hidden_size=16
    )
    collator = TrainingCollator(processor_for(model, tokenizer, extractor))
    wave = np.random.default_rng(1).standard_normal(8000).astype(np.float32) * 0.1
    batch = collator([Example(Sample("a", "a.wav", "Say it.", "hi", "hi", "asr"), wave)])
    with torch.no_grad():
        total, parts = StageObjective(model.eval(), RELEASE)(batch)
        ce = speechllm_loss(model, batch)
    assert float(total) == pytest.approx(float(ce)) and float(ce) > 0
    assert set(parts) == {"ce_loss", "loss"}


def test_a_speechllms_training_loss_is_its_forwards_loss_without_the_logits(tiny_bases):
    model, tokenizer, extractor = build_model(
        str(tiny_bases["encoder"]), str(tiny_bases["llm"]), adapter="speechllm", projector_hidden_size=16
    )
    collator = TrainingCollator(processor_for(model, tokenizer, extractor))
    rng = np.random.default_rng(2)
    waves = [(rng.standard_normal(n) * 0.1).astype(np.float32) for n in (8000, 12000)]  # two lengths: padding
    batch = collator(
        [
            Example(Sample("a", "a.wav", "Say it.", "hi there", "hi there", "asr"), waves[0]),
            Example(Sample("b", "b.wav", "What is it?", "a cat", "", "qa"), waves[1]),
        ]
    )
    model.eval()
    projector = [p for name, p in model.named_parameters() if name.startswith("projector.")]
    grads = []
    for loss_of in (
        lambda: (
            model(
                input_ids=batch.input_ids,
                attention_mask=batch.attention_mask,
                audios=batch.audios,
                audio_lengths=batch.audio_lengths,
                labels=batch.labels,
            ).loss
        ),
        lambda: speechllm_loss(model, batch),
    ):
        model.zero_grad(set_to_none=True)
        loss = loss_of()
        loss.backward()
        grads.append((float(loss.detach()), [p.grad.clone() for p in projector]))
    (full, full_grads), (fast, fast_grads) = grads
    assert fast == pytest.approx(full, rel=1e-5)
    assert all(torch.allclose(a, b, rtol=1e-4, atol=1e-6) for a, b in zip(full_grads, fast_grads, strict=True))
