"""Where a source's audio comes from: files on disk, or rows of an HF dataset (bytes, paths or arrays).

A reader answers two questions about sample `i` of its source: how long is it (from the header when
possible: no decoding) and what is its waveform (mono float32 at the requested rate, decoded on demand).
`datasets` 5 decodes audio only through torchcodec, so HF audio columns are read with
``Audio(decode=False)`` and decoded here with soundfile (soundwave.audio).
"""

from __future__ import annotations

import io
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import soundfile as sf
from tqdm.auto import tqdm

from soundwave.audio import SAMPLE_RATE, load_audio
from soundwave.data.manifest import Sample
from soundwave.errors import AudioError


class AudioReader(Protocol):
    """What a source gives the dataset: durations and waveforms of its samples by position."""

    def duration(self, index: int, sample: Sample) -> float:
        """Seconds of audio of sample `index` (raises AudioError when unreadable)."""
        ...

    def waveform(self, index: int, sample: Sample, rate: int) -> np.ndarray:
        """(n,) float32 mono waveform at `rate` (raises AudioError when unreadable)."""
        ...

    def select(self, positions: Sequence[int]) -> AudioReader:
        """The reader of the samples kept at `positions` (in that order)."""
        ...


def measure_duration(source: str | bytes, name: str | None = None) -> float:
    """Seconds of audio in a file or in the bytes of one, from the header when soundfile reads the format.

    Falls back to a full decode (soundwave.audio: ffmpeg) for formats libsndfile does not know; errors name the
    audio `name` (default: the path, or "<bytes>").

    Raises:
        AudioError: the audio is missing or unreadable.
    """
    try:
        info = sf.info(io.BytesIO(source) if isinstance(source, bytes) else source)
        if info.frames > 0 and info.samplerate > 0:
            return info.frames / info.samplerate
    except Exception:  # noqa: BLE001 - libsndfile raises several types by format; decode decides below
        pass
    return load_audio(source, target_rate=SAMPLE_RATE, name=name).size / SAMPLE_RATE


class FileAudio:
    """Audio held in files: `Sample.audio` is the path."""

    def duration(self, index: int, sample: Sample) -> float:
        return measure_duration(_require_path(sample))

    def waveform(self, index: int, sample: Sample, rate: int) -> np.ndarray:
        return load_audio(_require_path(sample), target_rate=rate)

    def select(self, positions: Sequence[int]) -> FileAudio:
        return self  # the path is in the sample: nothing to re-index


def _require_path(sample: Sample) -> str:
    if sample.audio is None:
        raise AudioError(f"sample {sample.id!r} is text-only: it has no audio")
    return sample.audio


class DatasetAudio:
    """Audio held in an HF dataset column read with ``Audio(decode=False)``.

    The column holds ``{"bytes", "path"}`` (HF Audio), ``{"array", "sampling_rate"}`` (decoded audio saved
    as is, the SpeechLLM seed's format) or a path string. Relative paths resolve against `base_dir`.

    Args:
        dataset: an HF `datasets.Dataset` holding the audio column (other columns may be dropped).
        column: the audio column's name.
        rows: for each sample of the source, its row in `dataset`.
        base_dir: folder for relative paths (None: the current folder).
    """

    def __init__(self, dataset: Any, column: str, rows: Sequence[int], base_dir: Path | None) -> None:
        self.dataset = dataset
        self.column = column
        self.rows = np.asarray(rows, dtype=np.int64)
        self.base_dir = base_dir

    def select(self, positions: Sequence[int]) -> DatasetAudio:
        return DatasetAudio(self.dataset, self.column, self.rows[np.asarray(positions, dtype=np.int64)], self.base_dir)

    def _value(self, index: int) -> Any:
        return self.dataset[int(self.rows[index])][self.column]

    def _path(self, path: str) -> str:
        resolved = Path(path)
        if not resolved.is_absolute() and self.base_dir is not None:
            resolved = self.base_dir / resolved
        return str(resolved)

    def duration(self, index: int, sample: Sample) -> float:
        value = self._value(index)
        if isinstance(value, dict) and value.get("array") is not None:
            return len(value["array"]) / float(value["sampling_rate"])
        source = self._source(value, sample)
        return measure_duration(source, name=sample.audio if isinstance(source, bytes) else None)

    def waveform(self, index: int, sample: Sample, rate: int) -> np.ndarray:
        value = self._value(index)
        if isinstance(value, dict) and value.get("array") is not None:
            array = np.asarray(value["array"], dtype=np.float32)
            return load_audio(array, sampling_rate=int(value["sampling_rate"]), target_rate=rate)
        source = self._source(value, sample)  # bytes in a dataset cell: named by the sample's locator
        return load_audio(source, target_rate=rate, name=sample.audio if isinstance(source, bytes) else None)

    def _source(self, value: Any, sample: Sample) -> str | bytes:
        if isinstance(value, str):
            return self._path(value)
        if isinstance(value, dict) and value.get("bytes"):
            return value["bytes"]
        if isinstance(value, dict) and value.get("path"):
            return self._path(value["path"])
        raise AudioError(f"{sample.audio}: the audio cell holds no bytes, path or array")


def measure_all(measure: Callable[[int], float], count: int, threads: int, desc: str) -> list[float | AudioError]:
    """Call `measure(i)` for i < count on `threads` threads; each result is seconds or the AudioError raised.

    Header reads are I/O-bound, so threads (not processes) are enough and keep readers unpickled.
    """

    def safe(i: int) -> float | AudioError:
        try:
            return measure(i)
        except AudioError as err:
            return err

    show = tqdm(total=count, desc=desc, unit="clip", disable=count < 2000, leave=False)
    with ThreadPoolExecutor(max_workers=threads) as pool:
        results = []
        for result in pool.map(safe, range(count), chunksize=64):
            results.append(result)
            show.update()
    show.close()
    return results
