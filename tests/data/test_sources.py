"""Sources: manifests, audio folders and HF datasets -> checked samples, with skips counted by reason."""

from __future__ import annotations

import json
from pathlib import Path

import datasets
import numpy as np
import pytest

import soundwave.data.audio_readers as audio_readers
from soundwave.config import load_config
from soundwave.config.data import DataConfig
from soundwave.data.dataset import SampleDataset
from soundwave.data.skips import SkipCounter
from soundwave.data.sources import load_sources
from soundwave.errors import ConfigError, ManifestError


def load(raw: dict):
    data = load_config(DataConfig, raw)
    skips = SkipCounter(strict=data.strict)
    return load_sources(data, skips), skips


def hf_dir(tmp_path: Path, columns: dict, splits=("train",)) -> Path:
    """Save `columns` as an HF dataset (a DatasetDict for several splits), HF Audio when bytes are given."""
    ds = datasets.Dataset.from_dict(columns)
    if "audio" in columns and isinstance(columns["audio"][0], dict) and "bytes" in columns["audio"][0]:
        ds = ds.cast_column("audio", datasets.Audio(decode=False))
    path = tmp_path / "hf"
    if len(splits) == 1:
        ds.save_to_disk(str(path))
    else:
        datasets.DatasetDict({s: ds for s in splits}).save_to_disk(str(path))
    return path


def test_manifest_source_filters_and_counts(tmp_path, tone):
    tone("ok.wav", 0.5)
    tone("long.wav", 3.0)
    tone("short.wav", 0.05)
    (tmp_path / "corrupt.wav").write_bytes(b"RIFF not really a wav file")
    lines = [
        {"audio": "ok.wav", "transcript": "fine"},
        {"audio": "long.wav", "transcript": "too long"},
        {"audio": "short.wav", "transcript": "too short"},
        {"audio": "corrupt.wav", "transcript": "broken"},
        {"audio": "absent.wav", "transcript": "missing"},
        {"audio": "ok.wav", "transcript": "declared", "duration": 9.0},  # the declared duration is trusted
    ]
    manifest = tmp_path / "asr.jsonl"
    manifest.write_text("\n".join(json.dumps(x) for x in lines) + "\n")
    (source,), skips = load({"datasets": [{"path": str(manifest)}], "min_duration": 0.1, "max_duration": 2.0})
    assert [s.answer for s in source.samples] == ["fine"]
    assert source.samples[0].duration == pytest.approx(0.5)  # measured from the header
    assert skips.by_source("asr") == {
        "audio_not_found": 1,
        "too_long": 2,
        "too_short": 1,
        "unreadable_audio": 1,
    }
    saved = tmp_path / "skips.json"
    skips.save(saved)
    assert json.loads(saved.read_text())["asr"]["too_long"]["count"] == 2
    with pytest.raises(ManifestError, match=r"asr\.jsonl:5: audio file not found"):
        load({"datasets": [{"path": str(manifest)}], "strict": True})
    lines.pop(4)
    manifest.write_text("\n".join(json.dumps(x) for x in lines) + "\n")
    with pytest.raises(ManifestError, match=r"long\.wav \(line/row 2\): 3\.00 s > max_duration 2\.0"):
        load({"datasets": [{"path": str(manifest)}], "strict": True, "max_duration": 2.0})


def test_hf_dataset_with_remap_split_amount_and_bytes(tmp_path, tone):
    clips = [tone(f"{i}.wav", 0.2 + 0.1 * i).read_bytes() for i in range(5)]
    path = hf_dir(
        tmp_path,
        {
            "audio": [{"bytes": b, "path": f"{i}.wav"} for i, b in enumerate(clips)],
            "text_normalized": [f"utt {i}" for i in range(5)],
            "speaker": ["a", "b", "a", "b", "a"],
        },
        splits=("train", "dev"),
    )
    (source,), skips = load(
        {
            "data_path": str(path),
            "split": "dev",
            "amount": "1:4",
            "remap_keys": {"text_normalized": "transcription"},
        }
    )
    assert [s.transcript for s in source.samples] == ["utt 1", "utt 2", "utt 3"]
    assert [s.answer for s in source.samples] == ["utt 1", "utt 2", "utt 3"]  # ASR: answer = transcript
    assert [s.line for s in source.samples] == [2, 3, 4]  # 1-based rows of the whole split
    assert source.samples[0].extra == {"speaker": "b"}
    assert [round(s.duration, 2) for s in source.samples] == [0.3, 0.4, 0.5]  # headers of the bytes
    waveform = source.reader.waveform(2, source.samples[2], 16_000)
    assert waveform.shape == (8000,) and waveform.dtype == np.float32
    assert skips.total == 0


def test_duration_column_is_used_without_decoding(tmp_path, tone, monkeypatch):
    paths = [str(tone(f"{i}.wav", 0.5)) for i in range(3)]
    path = hf_dir(tmp_path, {"audio": paths, "transcription": ["a", "b", "c"], "duration": [0.5, 99.0, 1.0]})

    def no_decoding(*args, **kwargs):
        raise AssertionError("audio was read although the dataset has a duration column")

    monkeypatch.setattr(audio_readers, "measure_duration", no_decoding)
    monkeypatch.setattr(audio_readers, "load_audio", no_decoding)
    (source,), skips = load({"data_path": str(path), "max_duration": 30.0})
    assert [s.duration for s in source.samples] == [0.5, 1.0]
    assert skips.by_source("hf") == {"too_long": 1}  # the column said 99 s, the clip is 0.5 s: column wins


def test_seed_format_audio_arrays_and_missing_paths(tmp_path, tone):
    rate = 8000
    arrays = [np.zeros(int(rate * s), dtype=np.float32).tolist() for s in (0.5, 1.0)]
    path = hf_dir(
        tmp_path,
        {"audio": [{"array": a, "sampling_rate": rate} for a in arrays], "transcription": ["x", "y"]},
    )
    (source,), _ = load({"data_path": str(path)})
    assert [s.duration for s in source.samples] == [0.5, 1.0]
    dataset = SampleDataset([source], sampling_rate=16_000)
    assert dataset[1].waveform.shape == (16_000,)  # 1 s at 8 kHz resampled to 16 kHz


def test_text_only_hf_source_and_column_errors(tmp_path):
    path = hf_dir(tmp_path, {"prompt": ["Hi?", "2+2?"], "answer": ["Hello.", "4"]})
    (source,), _ = load({"datasets": [{"path": str(path), "task": "text"}]})
    assert [(s.audio, s.task, s.answer) for s in source.samples] == [
        (None, "text", "Hello."),
        (None, "text", "4"),
    ]
    assert source.reader is None
    with pytest.raises(ConfigError, match=r"no 'audio' column .*set task"):
        load({"data_path": str(path)})
    with pytest.raises(ConfigError, match=r"remap_keys names column\(s\) \['text'\]"):
        load({"data_path": str(path), "remap_keys": {"text": "transcription"}})


def test_missing_transcription_column_says_how_to_map_it(tmp_path, tone):
    path = hf_dir(tmp_path, {"audio": [str(tone("a.wav"))], "text": ["hi"]})
    with pytest.raises(
        ConfigError, match=r"none of the columns .* map one with remap_keys, e.g. \{text: transcription"
    ):
        load({"data_path": str(path)})
    (source,), _ = load({"data_path": str(path), "remap_keys": {"text": "transcription"}})
    assert source.samples[0].transcript == "hi"


@pytest.mark.parametrize("form", ["csv", "jsonl", "split_csv"])
def test_audio_folder(tmp_path, tone, form):
    folder = tmp_path / "af"
    where = folder / "train" if form == "split_csv" else folder
    tone("af/train/a.wav" if form == "split_csv" else "af/a.wav", 0.5, rate=44_100, channels=2)
    tone("af/train/b.wav" if form == "split_csv" else "af/b.wav", 0.25)
    rows = [("a.wav", "first"), ("b.wav", ""), ("missing.wav", "third")]
    if form == "jsonl":
        text = "".join(json.dumps({"file_name": f, "text": t}) + "\n" for f, t in rows)
        (where / "metadata.jsonl").write_text(text)
    else:
        (where / "metadata.csv").write_text("file_name,text\n" + "".join(f"{f},{t}\n" for f, t in rows))
    (source,), skips = load({"data_path": str(folder), "remap_keys": {"text": "transcription"}})
    assert [s.transcript for s in source.samples] == ["first"]
    reasons = skips.by_source("af")
    assert reasons["audio_not_found"] == 1
    assert reasons.get("empty_text", 0) + reasons.get("missing_field", 0) == 1  # csv: empty cell = absent
    example = SampleDataset([source])[0]
    assert example.waveform.shape == (8000,)  # 0.5 s of 44.1 kHz stereo -> 16 kHz mono


def test_a_source_left_empty_is_an_error(tmp_path, tone):
    tone("long.wav", 2.0)
    manifest = tmp_path / "m.jsonl"
    manifest.write_text(json.dumps({"audio": "long.wav", "transcript": "x"}) + "\n")
    with pytest.raises(ManifestError, match=r"source 'm' .*no usable samples \(skipped: too_long 1\)"):
        load({"data_path": str(manifest), "max_duration": 1.0})


def test_unknown_local_folder_and_offline_hub_name(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(ConfigError, match="neither an HF dataset"):
        load({"data_path": str(tmp_path / "empty")})
    with pytest.raises(ConfigError, match="loading it as an HF hub dataset"):
        load({"data_path": "no-such-org/no-such-dataset-xyz"})


def test_local_data_file_through_datasets(tmp_path, tone, monkeypatch):
    monkeypatch.setattr(datasets.config, "HF_DATASETS_CACHE", tmp_path / "cache")  # keep ~/.cache clean
    tone("a.wav", 0.5)
    (tmp_path / "d.csv").write_text("audio,text,duration\na.wav,hi,0.5\nabsent.wav,x,1.0\n")
    (source,), skips = load({"data_path": str(tmp_path / "d.csv"), "remap_keys": {"text": "transcription"}})
    assert [(s.audio, s.answer) for s in source.samples] == [(str(tmp_path / "a.wav"), "hi")]
    assert skips.by_source("d") == {"audio_not_found": 1}


def test_unreadable_bytes_in_a_dataset_are_named_by_their_sample(tmp_path, tone):
    good = tone("a.wav", 0.3).read_bytes()
    path = hf_dir(tmp_path, {"audio": [{"bytes": good, "path": "a.wav"}, {"bytes": b"not audio", "path": "b.wav"}],
                             "transcription": ["one", "two"]})  # fmt: skip
    (source,), skips = load({"data_path": str(path)})
    assert len(source.samples) == 1 and skips.total == 1
    (detail,) = [text for examples in skips.examples.values() for text in examples]
    assert "hf#train[1]: not readable as audio" in detail and "BytesIO" not in detail and "<bytes>" not in detail


def test_hours_keeps_nested_first_subsets_of_the_usable_audio(tmp_path, tone, caplog):
    tone("a.wav", 1.0)
    lines = [{"audio": "a.wav", "transcript": f"row {i}", "duration": d} for i, d in enumerate([900, 1800, 900, 50.0])]
    lines.insert(1, {"audio": "a.wav", "transcript": "too long", "duration": 5000})  # filtered out before counting
    manifest = tmp_path / "asr.jsonl"
    manifest.write_text("\n".join(json.dumps(x) for x in lines) + "\n")

    def kept(hours):
        (source,), _ = load({"datasets": [{"path": str(manifest), "hours": hours}], "max_duration": 3600})
        return [s.answer for s in source.samples], source.hours

    assert kept(0.25) == (["row 0"], 0.25)  # 900 s
    assert kept(0.5) == (["row 0"], 0.25)  # the next row (1800 s) would pass 0.5 h
    assert kept(1.0) == (["row 0", "row 1", "row 2"], 1.0)
    assert not [r for r in caplog.records if "asked" in r.message]
    assert kept(2.0)[0] == ["row 0", "row 1", "row 2", "row 3"]  # all of it, and a warning that it is less
    assert any("hours: 2 asked, only 1.01 h there" in r.message for r in caplog.records)
    assert kept(None) == kept(2.0)
    for small, large in [(0.25, 0.5), (0.5, 1.0), (1.0, 2.0)]:  # nested: each a prefix of the next
        assert kept(large)[0][: len(kept(small)[0])] == kept(small)[0]
    with pytest.raises(ConfigError, match="hours must be a positive"):
        load({"datasets": [{"path": str(manifest), "hours": 0}]})
    with pytest.raises(ManifestError, match="no usable samples"):
        load({"datasets": [{"path": str(manifest), "hours": 0.01}], "max_duration": 3600})  # 36 s: not even one
