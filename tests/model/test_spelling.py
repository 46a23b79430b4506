"""The spelling head (a character CTC on the encoder frames): built on request, padding-invariant, trained alone by
its own loss, saved in compact models, and read by joint decoding through the Pipeline."""

from types import SimpleNamespace

import pytest
import torch

from soundwave.model.builder import build_model
from soundwave.model.spelling import BLANK, CHARSET, SpellingHead, greedy_spelling, spell
from soundwave.training.collate import padded
from soundwave.training.config import LossWeights
from soundwave.training.losses import soundwave_losses, weigh_losses
from tests.model.test_builder import MEL_WINDOW, base_dir


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    root = tmp_path_factory.getbasetemp() / "tiny-bases"
    built, _, _ = build_model(
        encoder=str(base_dir(root, "whisper")), llm=str(base_dir(root, "llm")), mode="paper", spelling_head=True
    )
    return built


def test_no_spelling_head_unless_asked(tmp_path_factory):
    root = tmp_path_factory.getbasetemp() / "tiny-bases"
    plain, _, _ = build_model(encoder=str(base_dir(root, "whisper")), llm=str(base_dir(root, "llm")), mode="paper")
    assert plain.spelling_head is None and not plain.config.spelling_head
    with pytest.raises(ValueError, match="no spelling head"):
        plain.spelling_texts(torch.zeros(1, 80, MEL_WINDOW))


def test_spelling_logits_of_a_padded_batch_equal_each_clip_alone(model):
    model.eval()
    mel, lengths = torch.randn(3, 80, MEL_WINDOW) * 0.5, torch.tensor([MEL_WINDOW, 120, 60])
    with torch.no_grad():
        together = model.encode_audio(mel, lengths)
        together_logits = model.spelling_logits(together.frames, together.frame_lengths)
        assert together_logits.shape[-1] == 1 + len(CHARSET)
        for i in range(3):
            alone = model.encode_audio(mel[i : i + 1, :, : int(lengths[i])], lengths[i : i + 1])
            alone_logits = model.spelling_logits(alone.frames, alone.frame_lengths)
            n = int(alone.frame_lengths[0])
            assert n == int(together.frame_lengths[i])
            torch.testing.assert_close(together_logits[i, :n], alone_logits[0, :n], atol=1e-5, rtol=1e-4)


def test_the_spelling_loss_trains_the_head_alone_and_falls(model):
    torch.manual_seed(0)
    model.train()
    for name, param in model.named_parameters():
        param.requires_grad_(name.startswith("spelling_head."))
    frames = (torch.randn(2, 40, model.config.audio_config.d_model), torch.tensor([40, 30]))  # the encoder's output
    targets = padded([spell("hi there"), spell("go")])
    frozen = {n: p.detach().clone() for n, p in model.named_parameters() if not p.requires_grad}
    optimizer = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=1e-3)
    weights = LossWeights(ctc=0.0, lm=0.0, spelling=1.0)
    batch = SimpleNamespace(audios=None, windows_per_item=None, has_transcript=None, spelling_targets=targets)
    losses = []
    for _ in range(300):
        parts = soundwave_losses(model, batch, weights, frames)  # no LLM, no token CTC: the head only
        assert set(parts) == {"spelling_loss"}
        loss, logged = weigh_losses(parts, weights, model)
        assert float(loss.detach()) == logged["spelling_loss"]
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(float(loss.detach()))
    assert losses[-1] < 0.5 * losses[0]
    assert all(torch.equal(p, frozen[n]) for n, p in model.named_parameters() if n in frozen)
    model.eval()
    with torch.no_grad():
        assert greedy_spelling(model.spelling_head(*frames), frames[1]) == ["hi there", "go"]


def test_greedy_spelling_collapses_repeats_and_drops_blanks():
    labels = [BLANK, *spell("h"), *spell("h"), BLANK, *spell("i"), BLANK, *spell("i")]
    logits = torch.nn.functional.one_hot(torch.tensor([labels]), 1 + len(CHARSET)).float()
    assert greedy_spelling(logits, torch.tensor([len(labels)])) == ["hii"]
    assert greedy_spelling(logits, torch.tensor([3])) == ["h"]


def test_head_ignores_padded_frames():
    head = SpellingHead(8, dim=16, num_layers=1, num_heads=2).eval()
    frames = torch.randn(1, 6, 8)
    padded_frames = torch.cat([frames, torch.randn(1, 4, 8)], dim=1)
    torch.testing.assert_close(head(frames, torch.tensor([6])), head(padded_frames, torch.tensor([6]))[:, :6])


def test_compact_models_keep_the_spelling_head(tmp_path_factory, tmp_path):
    from soundwave.model.builder import ModelSpec, build_from_spec
    from soundwave.model.compact import load_compact, save_compact

    root = tmp_path_factory.getbasetemp() / "tiny-bases"
    spec = ModelSpec(
        encoder=str(base_dir(root, "whisper")), llm=str(base_dir(root, "llm")), mode="paper", spelling_head=True
    )
    built, tokenizer, extractor = build_from_spec(spec)
    with torch.no_grad():
        built.spelling_head.out.weight.add_(0.5)  # as if trained
    save_compact(built, tokenizer, extractor, tmp_path / "model", spec)
    loaded, _, _ = load_compact(tmp_path / "model")
    assert loaded.config.spelling_head
    for (name, ours), (_, theirs) in zip(
        built.spelling_head.state_dict().items(), loaded.spelling_head.state_dict().items(), strict=True
    ):
        assert torch.equal(ours, theirs), name


@pytest.mark.parametrize("beams", [1, 2])
def test_pipeline_decodes_with_the_spelling_ctc_batch_invariantly(model, tmp_path_factory, beams):
    import numpy as np
    from transformers import AutoTokenizer, WhisperFeatureExtractor

    from soundwave.inference.pipeline import Pipeline

    root = tmp_path_factory.getbasetemp() / "tiny-bases"
    tokenizer = AutoTokenizer.from_pretrained(str(base_dir(root, "llm")))
    tokenizer.add_special_tokens({"additional_special_tokens": ["<audio_patch>"]})
    extractor = WhisperFeatureExtractor(feature_size=80, chunk_length=MEL_WINDOW // 100)
    pipe = Pipeline.from_model(model.eval(), tokenizer, extractor)
    waves = [np.sin(np.arange(n, dtype=np.float32) / k) for n, k in ((16000, 7), (9000, 3))]
    items = [{"audio": w, "prompt": "Transcribe.", "sampling_rate": 16000} for w in waves]
    options = {"greedy": True, "max_new_tokens": 5, "ctc_weight": 0.3, "spelling_weight": 0.3, "num_beams": beams}
    batched = pipe.generate_batch(items, **options)
    alone = [pipe.generate_batch([item], **options)[0] for item in items]
    assert [r.error for r in batched] == [None, None]
    assert [r.text for r in batched] == [r.text for r in alone]
