"""Batches, which the release cannot do: each row of a batched generate equals that clip generated alone."""

import numpy as np
import pytest
import torch

from soundwave.audio import load_audio
from soundwave.inference.processor import SpeechProcessor
from soundwave.model.loading import load_feature_extractor, load_soundwave
from soundwave.prompts import Turn

PROMPTS = ["What does the person say?", "Can you turn my English into German?", "Summarize."]


@pytest.fixture(scope="module", params=["released", "paper"])
def model(request, reference_dir):
    return load_soundwave(reference_dir / "checkpoint", mode=request.param)


@pytest.fixture(scope="module")
def clips(reference_dir, expected_json):
    waves = [load_audio(reference_dir / "audio" / s["audio"]) for s in expected_json["samples"]]
    return [waves[0], waves[1], waves[0][:20000]]  # three different lengths


def greedy(model, processor, waves, prompts):
    batch = processor(waves, [[Turn("user", p, audio=True)] for p in prompts])
    out = model.generate(**batch, do_sample=False, max_new_tokens=10, eos_token_id=4)
    out = out[:, batch["input_ids"].shape[1] :]  # prompt + new ids -> new ids
    return [row[row != 4].tolist() if (row == 4).any() else row.tolist() for row in out]


def test_batched_generate_equals_single(model, reference_dir, reference_tokenizer, clips):
    processor = SpeechProcessor(reference_tokenizer, load_feature_extractor(reference_dir / "checkpoint", 80))
    batched = greedy(model, processor, clips, PROMPTS)
    alone = [greedy(model, processor, [clip], [prompt])[0] for clip, prompt in zip(clips, PROMPTS, strict=True)]
    for row_batched, row_alone in zip(batched, alone, strict=True):
        assert row_batched[: len(row_alone)] == row_alone


def test_paper_mode_encodes_only_valid_frames(reference_dir, clips):
    model = load_soundwave(reference_dir / "checkpoint", mode="paper")
    extractor = load_feature_extractor(reference_dir / "checkpoint", 80)
    mel = extractor([clips[2]], sampling_rate=16000, return_tensors="pt").input_features
    mel_lengths = torch.tensor([int(np.ceil(clips[2].shape[0] / 160))])
    with torch.no_grad():
        audio = model.encode_audio(mel, mel_lengths)
    assert audio.aligned.shape[1] == (int(mel_lengths) + 3) // 4  # 100 mel/s -> 25 adapter frames/s
    assert int(audio.ctc_lengths[0]) == audio.aligned.shape[1]
    assert not audio.keep[0][audio.tokens[0] == model.placeholder_id].any()  # blank runs dropped


def test_paper_mode_padded_batch_equals_alone(reference_dir, clips):
    model = load_soundwave(reference_dir / "checkpoint", mode="paper")
    extractor = load_feature_extractor(reference_dir / "checkpoint", 80)
    mel = extractor(clips, sampling_rate=16000, return_tensors="pt").input_features
    lengths = torch.tensor([int(np.ceil(c.shape[0] / 160)) for c in clips])
    with torch.no_grad():
        together = model.encode_audio(mel, lengths)
        for i in range(len(clips)):
            alone = model.encode_audio(mel[i : i + 1], lengths[i : i + 1])
            n = int(alone.lengths[0])
            assert int(together.lengths[i]) == n
            torch.testing.assert_close(together.embeds[i, :n], alone.embeds[0, :n], atol=1e-5, rtol=1e-4)


def test_prompt_without_placeholder_names_the_row(reference_model, reference_tokenizer, expected):
    ids = expected["s0.prompt_ids"][None].repeat(2, 1)
    ids[1, ids[1] == 400] = 5  # row 1 loses its <audio_patch>
    mel = expected["s0.input_features"][None].repeat(2, 1, 1)
    with pytest.raises(ValueError, match="row 1: expected exactly 1 audio placeholder, found 0"):
        reference_model(input_ids=ids, audios=mel)


def test_two_placeholders_names_the_row(reference_model, expected):
    ids = expected["s0.prompt_ids"][None].clone()
    ids[0, 3] = 400
    with pytest.raises(ValueError, match="row 0: .* found 2"):
        reference_model(input_ids=ids, audios=expected["s0.input_features"][None])
