"""Audio folders: audio files plus a ``metadata.csv`` or ``metadata.jsonl`` naming them, as HF audiofolder.

The metadata has a ``file_name`` column (relative to the metadata file) and the text columns of a tabular
source (see soundwave.data.columns). A folder may hold one metadata file, or one per split in a
sub-folder (``train/metadata.csv``). Read here rather than with ``load_dataset("audiofolder")``, which in
datasets 5 needs torchcodec to build the dataset.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from soundwave.config.data import SourceConfig
from soundwave.data.amount import parse_amount
from soundwave.data.columns import AUDIO, check_columns, renamed
from soundwave.data.manifest import NOT_JSON, BadRecord, Sample, parse_record
from soundwave.data.skips import SkipCounter
from soundwave.errors import ConfigError

METADATA_NAMES = ("metadata.csv", "metadata.jsonl")
FILE_NAME = "file_name"  # the HF audiofolder column naming the audio file


def find_metadata(folder: Path, split: str) -> Path | None:
    """The metadata file of `folder` (or of its `split` sub-folder), or None when there is none.

    Raises:
        ConfigError: both a csv and a jsonl metadata file are present.
    """
    for where in (folder / split, folder):
        found = [where / name for name in METADATA_NAMES if (where / name).is_file()]
        if len(found) > 1:
            raise ConfigError(f"{where}: holds both {METADATA_NAMES[0]} and {METADATA_NAMES[1]}; keep one")
        if found:
            return found[0]
    return None


def _rows(path: Path) -> Iterator[tuple[int, Any]]:
    """(line number, row) pairs; a csv row is a dict of non-empty cells, a bad jsonl line a BadRecord."""
    with path.open(encoding="utf-8", newline="") as fh:
        if path.suffix == ".csv":
            reader = csv.DictReader(fh)
            for row in reader:
                yield reader.line_num, {k: v for k, v in row.items() if k is not None and v not in ("", None)}
        else:
            for number, text in enumerate(fh, start=1):
                if text.strip():
                    try:
                        yield number, json.loads(text)
                    except json.JSONDecodeError as err:
                        yield number, BadRecord(NOT_JSON, f"not valid JSON ({err.msg})")


def _header(path: Path) -> list[str]:
    """Column names: the csv header, or the keys of the first valid jsonl object."""
    with path.open(encoding="utf-8", newline="") as fh:
        if path.suffix == ".csv":
            return next(csv.reader(fh), [])
    for _, row in _rows(path):
        if isinstance(row, dict):
            return list(row)
    return []


def _as_number(value: Any) -> Any:
    """csv cells are strings: read a duration cell as a number (left as is when it is not one)."""
    try:
        return float(value) if isinstance(value, str) else value
    except ValueError:
        return value


def read_audiofolder(config: SourceConfig, default_prompt: str | None, skips: SkipCounter) -> list[Sample]:
    """Read an audio folder's metadata into samples (audio paths resolved and checked, not decoded).

    `amount` counts metadata rows; `remap_keys` renames columns before ``file_name`` becomes ``audio``.

    Raises:
        ConfigError: no metadata file, bad remap_keys, or columns that cannot yield samples.
    """
    folder, label = Path(config.path).expanduser(), config.label
    metadata = find_metadata(folder, config.split)
    if metadata is None:
        raise ConfigError(f"{folder}: no {' or '.join(METADATA_NAMES)} (here or in {config.split}/)")
    remap = dict(config.remap_keys)
    columns = renamed(_header(metadata), remap, label)
    if FILE_NAME in columns:
        if AUDIO in columns:
            raise ConfigError(f"{metadata}: has both {FILE_NAME!r} and {AUDIO!r} columns; keep one")
        columns = [AUDIO if c == FILE_NAME else c for c in columns]
    check_columns(columns, label, config.task, default_prompt)
    rows = list(_rows(metadata))
    samples = []
    for number, row in (rows[i] for i in parse_amount(config.amount).select(len(rows))):
        where = f"{metadata.name}:{number}"
        try:
            if isinstance(row, BadRecord):
                raise row
            if isinstance(row, dict):
                row = {remap.get(k, k): v for k, v in row.items()}
                if FILE_NAME in row:
                    row[AUDIO] = row.pop(FILE_NAME)
                if "duration" in row:
                    row["duration"] = _as_number(row["duration"])
            sample = parse_record(
                row, metadata.parent.resolve(), number, f"{label}:{number}", default_prompt, config.task
            )
        except BadRecord as err:
            skips.skip(label, err.code, f"{where}: {err}")
            continue
        samples.append(sample)
    return samples
