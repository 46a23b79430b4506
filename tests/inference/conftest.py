import math
from pathlib import Path

import numpy as np
import pytest
import torch

from soundwave.alignment.timeline import FRAME_SAMPLES
from soundwave.processor import AudioBatch, split_windows

REFERENCE = Path(__file__).parents[1] / "assets" / "soundwave-reference"


@pytest.fixture(scope="session")
def pipe():
    from soundwave.inference.pipeline import Pipeline

    return Pipeline.from_pretrained(str(REFERENCE / "checkpoint"))


@pytest.fixture(scope="session")
def clips() -> list[str]:
    return [
        str(REFERENCE / "audio" / name) for name in ("example_1.wav", "sense_and_sensibility_01_austen_64kb-0880.wav")
    ]


@pytest.fixture
def coded_ctc(pipe, monkeypatch):
    """The pipeline's model hears the coded audio exactly (windows still cut by the real processor): its CTC emits the
    token a stretch of audio codes for (value token_id / 1000); its shrinking adapter and all after it are real."""
    processor, model = pipe.processor, pipe.model
    vocab, blank, dim = model.config.vocab_size, model.blank_id, model.config.hidden_size

    def audio_batch(waves):
        windows, counts = [], []
        for wave in waves:
            parts = split_windows(wave, processor.window, processor.overlap)
            windows += parts
            counts.append(len(parts))
        lengths = [math.ceil(w.shape[0] / FRAME_SAMPLES) for w in windows]
        codes = torch.zeros(len(windows), max(lengths))  # one value per CTC frame
        for row, (window, n) in enumerate(zip(windows, lengths, strict=True)):
            padded = np.pad(window, (0, n * FRAME_SAMPLES - window.shape[0]))
            codes[row, :n] = torch.from_numpy(padded.reshape(n, FRAME_SAMPLES).max(axis=1))
        return AudioBatch(codes, torch.tensor(lengths), torch.tensor(counts))

    def encode_frames(codes, lengths):
        return codes[..., None], lengths  # (W, T, 1)

    def align(frames, lengths, ctc_from=0):  # every frame's logits: the model marks those before ctc_from blank
        token = (frames[..., 0] * 1000).round().long()  # (W, T)
        logits = torch.full((*token.shape, vocab), -8.0)
        logits[..., blank] = torch.where(token == 0, 8.0, -8.0)
        logits.scatter_(-1, token.clamp(min=0)[..., None], torch.where(token > 0, 8.0, -8.0)[..., None])
        return frames.expand(-1, -1, dim), logits, lengths  # aligned (W, T, D) for the real shrinking adapter

    monkeypatch.setattr(processor, "audio_batch", audio_batch)
    monkeypatch.setattr(model, "encode_frames", encode_frames)
    monkeypatch.setattr(model, "align", align)
