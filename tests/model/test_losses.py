"""The release's losses as the model computes them: CTC over the audios that count, and forward's weighted sum."""

import pytest
import torch

from soundwave.model.losses import audio_ctc_loss, ctc_rows


def test_ctc_rows_skip_audios_split_into_windows_and_those_without_a_transcript():
    windows_per_item = torch.tensor([1, 3, 1, 1])  # audio 1 spans windows 1-3
    has_transcript = torch.tensor([True, True, False, True])
    windows, targets = ctc_rows(windows_per_item, has_transcript, 4, "cpu")
    assert windows.tolist() == [0, 5] and targets.tolist() == [0, 3]
    windows, targets = ctc_rows(None, None, 3, "cpu")
    assert windows.tolist() == targets.tolist() == [0, 1, 2]


def test_model_ctc_over_a_subset_of_rows_equals_those_rows_alone(reference_model, expected):
    model = reference_model
    frames = torch.randn(2, 60, model.config.audio_config.d_model)
    lengths = torch.tensor([60, 44])
    targets = expected["train.asr_targets"]
    with torch.no_grad():
        _, logits, ctc_lengths = model.align(frames, lengths)  # (2, 30, V)
        _, first_logits, first_lengths = model.align(frames[:1], lengths[:1])  # (1, 30, V)
        both = audio_ctc_loss(logits, ctc_lengths, targets, model.blank_id)
        first = audio_ctc_loss(first_logits, first_lengths, targets[:1], model.blank_id)
        masked = audio_ctc_loss(
            logits, ctc_lengths, targets, model.blank_id, has_transcript=torch.tensor([True, False])
        )
        none = audio_ctc_loss(logits, ctc_lengths, targets, model.blank_id, has_transcript=torch.tensor([False, False]))
    assert float(masked) == pytest.approx(float(first), rel=1e-6)
    assert float(masked) != pytest.approx(float(both), rel=1e-3)
    assert none is None


def test_forward_loss_is_ce_plus_the_configs_ctc_weight_times_ctc(reference_model, expected):
    mel = torch.stack([expected["s0.input_features"], expected["s1.input_features"]])
    ids = expected["train.input_ids"]
    batch = dict(input_ids=ids, attention_mask=(ids != 4).long(), audios=mel, labels=expected["train.labels"])
    with torch.no_grad():
        out = reference_model(**batch, asr_targets=expected["train.asr_targets"])
        ce_only = reference_model(**batch)
    assert reference_model.config.ctc_weight == 0.3  # the release's, unless a checkpoint says otherwise
    assert float(out.loss) == pytest.approx(float(out.ce_loss + 0.3 * out.ctc_loss), rel=1e-6)
    assert ce_only.ctc_loss is None and float(ce_only.loss) == pytest.approx(float(out.ce_loss), rel=1e-6)
