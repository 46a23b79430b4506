"""Parity with the released code: every intermediate tensor of the reference fixture, and the training loss."""

import pytest
import torch

from soundwave.audio import load_audio
from soundwave.model.loading import load_feature_extractor
from soundwave.prompts import release_prompt_ids

SAMPLES = [0, 1]


def rel_err(ours: torch.Tensor, ref: torch.Tensor) -> float:
    return float((ours.float() - ref.float()).abs().max() / ref.float().abs().max())


@pytest.mark.parametrize("k", SAMPLES)
def test_waveform_and_features(k, reference_dir, expected, expected_json):
    wave = load_audio(reference_dir / "audio" / expected_json["samples"][k]["audio"])
    torch.testing.assert_close(torch.from_numpy(wave), expected[f"s{k}.waveform"], rtol=0, atol=1e-6)
    extractor = load_feature_extractor(reference_dir / "checkpoint", 80)
    feats = extractor(wave, sampling_rate=16000, return_tensors="pt").input_features[0]
    assert rel_err(feats, expected[f"s{k}.input_features"]) <= 1e-4


@pytest.mark.parametrize("k", SAMPLES)
def test_prompt_ids_token_for_token(k, reference_tokenizer, expected, expected_json):
    ids = release_prompt_ids(reference_tokenizer, expected_json["samples"][k]["prompt"])
    assert ids == expected[f"s{k}.prompt_ids"].tolist()


@pytest.mark.parametrize("k", SAMPLES)
def test_audio_path_matches_release(k, reference_model, expected, expected_json):
    mel = expected[f"s{k}.input_features"][None]
    with torch.no_grad():
        frames = reference_model.audio_encoder.encode_window(mel)[0]
        audio = reference_model.encode_audio(mel)
    assert rel_err(frames, expected[f"s{k}.encoder_out"]) <= 1e-4
    assert rel_err(audio.aligned[0], expected[f"s{k}.aligned"]) <= 1e-4
    assert torch.equal(audio.tokens[0], expected[f"s{k}.ctc_tokens"])
    assert torch.equal(audio.keep[0], expected[f"s{k}.keep_mask"])
    assert int(audio.lengths[0]) == expected_json["samples"][k]["kept_frames"]
    assert rel_err(audio.embeds[0, : int(audio.lengths[0])], expected[f"s{k}.shrunk"]) <= 1e-4


@pytest.mark.parametrize("k", SAMPLES)
def test_prefill_logits_and_greedy_ids(k, reference_model, expected):
    mel = expected[f"s{k}.input_features"][None]
    ids = expected[f"s{k}.prompt_ids"][None]
    with torch.no_grad():
        out = reference_model(input_ids=ids, attention_mask=torch.ones_like(ids), audios=mel)
    assert out.logits.shape[1:] == expected[f"s{k}.prefill_logits"].shape
    assert rel_err(out.logits[0], expected[f"s{k}.prefill_logits"]) <= 1e-4
    greedy = reference_model.generate(
        input_ids=ids, attention_mask=torch.ones_like(ids), audios=mel, do_sample=False, max_new_tokens=12
    )
    assert greedy[0, : ids.shape[1]].tolist() == ids[0].tolist()  # the prompt comes back first
    assert greedy[0, ids.shape[1] :].tolist() == expected[f"s{k}.greedy_ids"].tolist()


def release_call_losses(model, batch):
    """The release's call: (ce, ctc, total, logits) from `forward`, weighted by the config's ctc_weight (0.3)."""
    out = model(
        input_ids=batch.input_ids,
        attention_mask=batch.attention_mask,
        audios=batch.audios,
        labels=batch.labels,
        asr_targets=batch.asr_targets,
    )
    return out.ce_loss, out.ctc_loss, out.loss, out.logits


def training_losses(model, batch):
    """Training's path (CE at the answer tokens only, weights from LossWeights: the release's CE + 0.3 x CTC)."""
    from soundwave.training.config import LossWeights
    from soundwave.training.losses import StageObjective, soundwave_losses

    losses = soundwave_losses(model, batch, LossWeights())
    total, _ = StageObjective(model, LossWeights())(batch)
    return losses["ce_loss"], losses["ctc_loss"], total, None


@pytest.mark.parametrize("return_logits", [True, False], ids=["full-logits", "loss-only"])
def test_training_losses_match_release(reference_model, expected, expected_json, return_logits):
    from soundwave.training.collate import TrainBatch

    mel = torch.stack([expected["s0.input_features"], expected["s1.input_features"]])
    ids = expected["train.input_ids"]
    ones = torch.ones(2, dtype=torch.long)
    batch = TrainBatch(
        input_ids=ids,
        attention_mask=(ids != 4).long(),  # the release's own mask: input_ids != <|eot_id|>
        labels=expected["train.labels"],
        audios_per_row=ones,
        audios=mel,
        audio_lengths=torch.full((2,), mel.shape[-1]),
        windows_per_item=ones,
        asr_targets=expected["train.asr_targets"],
        has_transcript=ones.bool(),
    )
    with torch.no_grad():
        ce, ctc, total, logits = (release_call_losses if return_logits else training_losses)(reference_model, batch)
    assert (logits is None) == (not return_logits)
    ref = expected_json["train"]
    assert abs(ce.item() - ref["ce_loss"]) <= 1e-4 * ref["ce_loss"]
    assert abs(ctc.item() - ref["ctc_loss"]) <= 1e-4 * ref["ctc_loss"]
    assert abs(total.item() - ref["total_loss"]) <= 1e-4 * ref["total_loss"]


def test_eot_mask_option_changes_attention(reference_dir, expected):
    """The release's GPU path attends to <|eot_id|> keys; the option must really change the prefill."""
    from soundwave.model.loading import load_soundwave

    unmasked = load_soundwave(reference_dir / "checkpoint", mask_eot_keys=False)
    ids, mel = expected["s0.prompt_ids"][None], expected["s0.input_features"][None]
    with torch.no_grad():
        logits = unmasked(input_ids=ids, attention_mask=torch.ones_like(ids), audios=mel).logits[0]
    assert rel_err(logits, expected["s0.prefill_logits"]) > 1e-3
