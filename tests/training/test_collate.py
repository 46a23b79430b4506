"""TrainingCollator: CTC and spelling targets per audio, and encoder-cache keys that tell same-id samples apart."""

from pathlib import Path

import numpy as np
from transformers import AutoTokenizer, WhisperFeatureExtractor

from soundwave.data.dataset import Example
from soundwave.data.manifest import Sample
from soundwave.inference.processor import SpeechProcessor
from soundwave.model.spelling import spell
from soundwave.model.splice import IGNORE_INDEX
from soundwave.training.collate import TrainingCollator

MINI = Path(__file__).parents[2] / "soundwave" / "assets" / "soundwave-mini"


def test_two_datasets_may_share_an_id_but_not_an_encoder_cache_key():
    tokenizer = AutoTokenizer.from_pretrained(str(MINI))
    processor = SpeechProcessor(
        tokenizer, WhisperFeatureExtractor.from_pretrained(str(MINI)), prompt_format="chat_template"
    )
    wave = np.zeros(8000, dtype=np.float32)
    examples = [
        Example(Sample("train-000000", "a/x.wav", "Say it.", "Hello there.", "Hello there.", "asr"), wave),
        Example(Sample("train-000000", "b/x.wav", "Say it.", "Go!", "Go!", "asr"), wave),
        Example(Sample("text-1", None, "Hi?", "Hello.", None, "text"), None),
    ]
    batch = TrainingCollator(processor)(examples)
    assert batch.ids == ["train-000000", "train-000000", "text-1"]
    assert len(set(batch.audio_keys)) == 2 == batch.audios.shape[0]
    assert [[t for t in row if t != IGNORE_INDEX] for row in batch.spelling_targets.tolist()] == [
        spell("Hello there."),
        spell("Go!"),
    ]
