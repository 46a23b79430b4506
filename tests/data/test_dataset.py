"""The Dataset and the training-data builder, end to end with a DataLoader."""

from __future__ import annotations

import json
import pickle

import datasets
import numpy as np
import pytest
import torch

from soundwave.config import load_config
from soundwave.config.data import DataConfig
from soundwave.data.build import build_eval_data, build_training_data
from soundwave.data.dataset import Example, SampleDataset
from soundwave.data.skips import SkipCounter
from soundwave.data.sources import load_sources
from soundwave.errors import AudioError


@pytest.fixture
def mixed_config(tmp_path, tone) -> DataConfig:
    """A manifest of 12 ASR clips + 2 text-only lines, and an HF dataset of 4 ST clips (audio as bytes)."""
    lines = [{"audio": str(tone(f"asr{i}.wav", 0.1 + 0.05 * i)), "transcript": f"a{i}"} for i in range(12)]
    lines += [{"prompt": "Say hi.", "answer": "Hi."}, {"prompt": "Count.", "answer": "1 2 3"}]
    (tmp_path / "asr.jsonl").write_text("".join(json.dumps(x) + "\n" for x in lines))
    clips = [{"bytes": tone(f"st{i}.wav", 0.3, rate=22_050).read_bytes(), "path": None} for i in range(4)]
    st = datasets.Dataset.from_dict({"audio": clips, "transcription": ["t"] * 4, "answer": ["x"] * 4})
    st.cast_column("audio", datasets.Audio(decode=False)).save_to_disk(str(tmp_path / "st"))
    return load_config(
        DataConfig,
        {
            "datasets": [{"path": str(tmp_path / "asr.jsonl")}, {"path": str(tmp_path / "st"), "task": "st"}],
            "prompt": "Translate.",
            "temperature": {"start": 1.0, "end": 10.0},
            "length_group_batches": 2,
            "eval_datasets": [{"path": str(tmp_path / "asr.jsonl"), "name": "dev", "amount": ":5"}],
        },
    )


def test_examples_are_decoded_lazily_at_16k(mixed_config):
    data = build_training_data(mixed_config, batch_size=4, num_batches=6)
    dataset = data.dataset
    assert len(dataset) == 18 and dataset.source_names == ["asr", "st"]
    example = dataset[16]  # an ST clip: 0.3 s at 22.05 kHz inside the HF dataset
    assert isinstance(example, Example) and example.sample.task == "st" and example.sample.prompt == "Translate."
    assert example.waveform.dtype == np.float32 and example.waveform.shape == (4800,)
    text = dataset[12]
    assert text.waveform is None and text.sample.task == "text"
    assert [p.name for p in data.stream.pools] == ["asr/asr", "asr/text", "st/st"]
    pickle.loads(pickle.dumps(dataset))  # DataLoader workers may need to pickle it


def test_dataloader_yields_the_sampler_batches_and_resumes(mixed_config):
    data = build_training_data(mixed_config, batch_size=4, num_batches=6)
    loader = torch.utils.data.DataLoader(data.dataset, batch_sampler=data.sampler, collate_fn=list)
    ids = [[ex.sample.id for ex in batch] for batch in loader]
    assert len(ids) == 6 and all(len(b) == 4 for b in ids)
    again = build_training_data(mixed_config, batch_size=4, num_batches=6)
    again.sampler.load_state_dict({"batches": 4})
    resumed = torch.utils.data.DataLoader(again.dataset, batch_sampler=again.sampler, collate_fn=list)
    assert [[ex.sample.id for ex in batch] for batch in resumed] == ids[4:]
    assert data.batches_per_epoch == 5  # ceil(18 / 4)


def test_eval_data_is_ordered_and_complete(mixed_config):
    evaluation = build_eval_data(mixed_config, batch_size=2)
    assert [s.name for s in evaluation.dataset.sources] == ["dev"]
    assert sorted(i for b in evaluation.batches for i in b) == list(range(5))


def test_a_clip_unreadable_at_access_is_replaced_or_raises(tmp_path, tone):
    paths = [tone(f"{i}.wav", 0.5) for i in range(3)]
    manifest = tmp_path / "m.jsonl"
    manifest.write_text(
        "".join(json.dumps({"audio": str(p), "transcript": str(i)}) + "\n" for i, p in enumerate(paths))
    )
    data = load_config(DataConfig, {"data_path": str(manifest)})
    sources = load_sources(data, SkipCounter())
    paths[1].write_bytes(b"broken after loading")
    assert SampleDataset(sources)[1].sample.transcript == "2"  # the next sample of the same source
    with pytest.raises(AudioError, match=r"sample 'm:2' of 'm'"):
        SampleDataset(sources, strict=True)[1]
