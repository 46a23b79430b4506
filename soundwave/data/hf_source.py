"""HF `datasets` sources: ``save_to_disk`` folders, local data files and hub names -> samples + audio reader.

Rows are cut by `amount`, columns renamed by `remap_keys`, and each row becomes a Sample by the same rules
as a manifest line (`parse_record`). The audio column is read with ``Audio(decode=False)`` (datasets 5
decodes only through torchcodec) and decoded on demand by `DatasetAudio`. No audio is decoded here.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import datasets
import pyarrow as pa

from soundwave.config.data import SourceConfig
from soundwave.data.amount import parse_amount
from soundwave.data.audio_readers import DatasetAudio
from soundwave.data.columns import AUDIO, KNOWN, check_columns, renamed
from soundwave.data.manifest import AUDIO_NOT_FOUND, BadRecord, Sample, parse_record
from soundwave.data.skips import SkipCounter
from soundwave.errors import ConfigError

_DATA_FILE_BUILDERS = {
    ".csv": "csv",
    ".json": "json",
    ".jsonl": "json",
    ".parquet": "parquet",
    ".arrow": "arrow",
}
_BATCH_ROWS = 10_000  # rows converted per arrow batch
_PLAIN = (str, int, float, bool)


def is_hf_dataset_dir(path: Path) -> bool:
    """Whether `path` is a folder written by ``Dataset.save_to_disk`` / ``DatasetDict.save_to_disk``."""
    return path.is_dir() and any((path / name).is_file() for name in ("dataset_info.json", "dataset_dict.json"))


def _pick_split(loaded: Any, config: SourceConfig) -> datasets.Dataset:
    if isinstance(loaded, datasets.DatasetDict):
        if config.split not in loaded:
            raise ConfigError(f"{config.path}: no split {config.split!r} (splits: {', '.join(loaded)}); set `split`")
        return loaded[config.split]
    return loaded


def open_hf_dataset(config: SourceConfig) -> tuple[datasets.Dataset, Path | None]:
    """Open the dataset `config.path` names, and the folder relative audio paths resolve against.

    Raises:
        ConfigError: a local path of an unknown format, a missing split, or a hub dataset that cannot be
            loaded (no network, wrong name).
    """
    path = Path(config.path).expanduser()
    if path.is_dir():
        if config.subset is not None:
            raise ConfigError(f"{path}: subset {config.subset!r} applies to hub datasets, not a local folder")
        if not is_hf_dataset_dir(path):
            raise ConfigError(f"{path}: not a folder written by datasets' save_to_disk")
        return _pick_split(datasets.load_from_disk(str(path)), config), path.resolve()
    if path.is_file():
        builder = _DATA_FILE_BUILDERS.get(path.suffix.lower())
        if builder is None:
            raise ConfigError(f"{path}: unknown data file type; use one of {', '.join(_DATA_FILE_BUILDERS)}")
        return datasets.load_dataset(builder, data_files=str(path), split="train"), path.resolve().parent
    try:
        return datasets.load_dataset(config.path, config.subset, split=config.split), None
    except Exception as err:  # hub errors vary: offline, not found, gated, bad config name
        raise ConfigError(
            f"data path {config.path!r} is not a local file or folder, and loading it as an HF hub dataset "
            f"(subset {config.subset!r}, split {config.split!r}) failed: {err}"
        ) from err


def _audio_refs(table: pa.Table, config: SourceConfig) -> list[tuple[str | None, bool]]:
    """Per row of an arrow batch: (path or None, whether the audio is held inside the dataset)."""
    column = table.column(AUDIO).combine_chunks()
    count = len(column)
    if pa.types.is_string(column.type) or pa.types.is_large_string(column.type):
        return [(p, False) for p in column.to_pylist()]
    if pa.types.is_struct(column.type):
        names = {column.type.field(i).name for i in range(column.type.num_fields)}
        if "array" in names:
            return [(None, True)] * count
        if {"bytes", "path"} <= names:
            has_bytes = column.field("bytes").is_valid().to_pylist()
            return list(zip(column.field("path").to_pylist(), has_bytes, strict=True))
    raise ConfigError(
        f"source {config.label!r}: the audio column has type {column.type}; expected HF Audio "
        "({bytes, path}), {array, sampling_rate} or a path string"
    )


def read_hf_source(
    config: SourceConfig, default_prompt: str | None, skips: SkipCounter
) -> tuple[list[Sample], DatasetAudio | None]:
    """Read an HF dataset source into samples (audio not decoded) and the reader of their audio.

    Args:
        config: the source.
        default_prompt: prompt for rows without one (source or data prompt; None: only ASR rows may lack one).
        skips: where unusable rows are counted (raises in strict mode).

    Returns:
        The samples, in row order, and a reader whose index i is samples[i] (None when text-only).

    Raises:
        ConfigError: see `open_hf_dataset`, `renamed` and `check_columns`.
    """
    label = config.label
    dataset, base_dir = open_hf_dataset(config)
    kept = parse_amount(config.amount).select(len(dataset))
    if len(kept) < len(dataset):
        dataset = dataset.select(kept)
    columns = renamed(dataset.column_names, config.remap_keys, label)
    if config.remap_keys:
        dataset = dataset.rename_columns(dict(config.remap_keys))
    check_columns(columns, label, config.task, default_prompt)
    has_audio = AUDIO in columns
    if has_audio and isinstance(dataset.features[AUDIO], datasets.Audio):
        dataset = dataset.cast_column(AUDIO, datasets.Audio(decode=False))
    samples: list[Sample] = []
    rows: list[int] = []
    for start in range(0, len(dataset), _BATCH_ROWS):
        table = dataset.with_format("arrow")[start : start + _BATCH_ROWS]
        refs = _audio_refs(table, config) if has_audio else None
        text = table.drop_columns([AUDIO]).to_pylist() if has_audio else table.to_pylist()
        for offset, record in enumerate(text):
            row = start + offset
            origin = kept[row] + 1  # 1-based row in the whole dataset, before `amount`
            record = {k: v for k, v in record.items() if k in KNOWN or isinstance(v, _PLAIN)}
            record = {k: v for k, v in record.items() if v is not None and not _is_nan(v)}
            if refs is not None:
                path, inside = refs[row - start]
                if inside:
                    record[AUDIO] = f"{config.path}#{config.split}[{origin - 1}]"  # a locator, not a file
                elif path:
                    resolved = Path(path) if Path(path).is_absolute() or base_dir is None else base_dir / path
                    if not resolved.is_file():
                        skips.skip(label, AUDIO_NOT_FOUND, f"row {origin}: audio file not found: {resolved}")
                        continue
                    record[AUDIO] = str(resolved)
                else:
                    record[AUDIO] = None
            try:
                sample = parse_record(record, None, origin, f"{label}:{origin}", default_prompt, config.task)
            except BadRecord as err:
                skips.skip(label, err.code, f"row {origin}: {err}")
                continue
            samples.append(sample)
            rows.append(row)
    reader = DatasetAudio(dataset.select_columns([AUDIO]), AUDIO, rows, base_dir) if has_audio else None
    return samples, reader


def _is_nan(value: Any) -> bool:
    return isinstance(value, float) and math.isnan(value)
