"""SpeechProcessor: mel features of paper-mode models stop at the batch's longest clip, with the same values."""

from pathlib import Path

import numpy as np
import pytest
import torch
from transformers import AutoTokenizer, WhisperFeatureExtractor

from soundwave.inference.processor import SpeechProcessor

MINI = Path(__file__).parents[2] / "soundwave" / "assets" / "soundwave-mini"


@pytest.fixture(scope="module")
def processors():
    tokenizer = AutoTokenizer.from_pretrained(str(MINI))
    extractor = WhisperFeatureExtractor.from_pretrained(str(MINI))
    return [SpeechProcessor(tokenizer, extractor, pad_to_window=full) for full in (True, False)]


def test_features_to_the_longest_clip_equal_the_full_windows_on_every_valid_frame(processors):
    rng = np.random.default_rng(0)
    waves = [rng.standard_normal(n).astype(np.float32) * 0.1 for n in (16000 * 4 + 37, 8000, 480000, 161)]
    full, short = (p.audio_batch(waves) for p in processors)
    assert full.audios.shape[-1] == 3000 and short.audios.shape[-1] == 3000  # a 30 s clip in the batch
    assert torch.equal(full.audio_lengths, short.audio_lengths)
    for i, n in enumerate(short.audio_lengths.tolist()):
        torch.testing.assert_close(short.audios[i, :, :n], full.audios[i, :, :n], atol=1e-5, rtol=0)
    brief = processors[1].audio_batch(waves[:2])
    assert brief.audios.shape[-1] == int(brief.audio_lengths.max()) == 401  # 4 s: 401 frames, not 3,000
    torch.testing.assert_close(brief.audios[1, :, :50], full.audios[1, :, :50], atol=1e-5, rtol=0)


def test_paper_models_get_the_short_features():
    from types import SimpleNamespace

    from soundwave.inference.loader import processor_for

    tokenizer = AutoTokenizer.from_pretrained(str(MINI))
    extractor = WhisperFeatureExtractor.from_pretrained(str(MINI))
    for pads, full in ((False, False), (True, True), (None, True)):  # None: a model that does not say
        model = SimpleNamespace(config=SimpleNamespace(), placeholder_token="<audio_patch>", input_kind="mel")
        if pads is not None:
            model.pads_to_window = pads
        assert processor_for(model, tokenizer, extractor).pad_to_window is full
