"""A torch map-style Dataset over loaded sources: index -> Example(sample, waveform), audio decoded lazily.

Indices run over the sources in order (source 0's samples first). The model-specific collation (tokens,
log-mel features) happens later, in the collate function, not here.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from soundwave.audio import SAMPLE_RATE
from soundwave.data.manifest import Sample
from soundwave.data.sources import LoadedSource
from soundwave.errors import AudioError

logger = logging.getLogger(__name__)

CHARS_PER_SECOND = 15.0  # about how fast text is spoken: puts text length on the audio-seconds scale
_MAX_REPLACEMENTS = 16  # unreadable clips in a row before giving up (the data is then badly broken)


@dataclass(frozen=True)
class Example:
    """One sample with its audio decoded."""

    sample: Sample
    waveform: np.ndarray | None  # (n,) float32 mono at the dataset's sampling rate; None when text-only


def sample_length(sample: Sample) -> float:
    """A sample's size for length grouping, in seconds: audio duration + its text read aloud.

    Text counts too (prompt and answer become tokens), so text-only samples group sensibly with audio ones.
    """
    return (sample.duration or 0.0) + len(sample.prompt + sample.answer) / CHARS_PER_SECOND


class SampleDataset(torch.utils.data.Dataset):
    """Samples of several sources behind one index; waveforms decoded on access.

    A clip that fails to decode at access time (its header was fine when the data was loaded) is replaced by
    the next sample of the same source, with a warning, so a long run does not die on one bad file;
    with `strict` it raises instead.

    Args:
        sources: loaded sources (see soundwave.data.sources.load_sources).
        sampling_rate: rate of the returned waveforms.
        strict: raise AudioError on an unreadable clip instead of replacing it.
    """

    def __init__(self, sources: Sequence[LoadedSource], sampling_rate: int = SAMPLE_RATE, strict: bool = False):
        if not sources:
            raise ValueError("SampleDataset needs at least one source")
        self.sources = list(sources)
        self.sampling_rate = sampling_rate
        self.strict = strict
        self.sizes = np.array([len(s.samples) for s in self.sources], dtype=np.int64)  # (S,)
        self.offsets = np.concatenate([[0], np.cumsum(self.sizes)])  # (S + 1,) first index of each source

    def __len__(self) -> int:
        return int(self.offsets[-1])

    @property
    def source_names(self) -> list[str]:
        """Names of the sources, in index order."""
        return [s.name for s in self.sources]

    def locate(self, index: int) -> tuple[int, int]:
        """(source number, position in that source) of a dataset index."""
        if not 0 <= index < len(self):
            raise IndexError(f"index {index} out of range for a dataset of {len(self)} samples")
        source = int(np.searchsorted(self.offsets, index, side="right")) - 1
        return source, index - int(self.offsets[source])

    def sample(self, index: int) -> Sample:
        """The sample at `index`, without decoding audio."""
        source, position = self.locate(index)
        return self.sources[source].samples[position]

    def lengths(self) -> np.ndarray:
        """(N,) `sample_length` of every sample, in index order (for length-grouped batching)."""
        return np.array([sample_length(s) for src in self.sources for s in src.samples], dtype=np.float64)

    def __getitem__(self, index: int) -> Example:
        source_number, position = self.locate(int(index))
        source = self.sources[source_number]
        for _ in range(_MAX_REPLACEMENTS):
            sample = source.samples[position]
            if sample.audio is None or source.reader is None:
                return Example(sample, None)
            try:
                return Example(sample, source.reader.waveform(position, sample, self.sampling_rate))
            except AudioError as err:
                if self.strict:
                    raise AudioError(f"sample {sample.id!r} of {source.name!r}: {err}") from err
                logger.warning("data: sample %r of %r unreadable, using the next one: %s", sample.id, source.name, err)
                position = (position + 1) % len(source.samples)
        raise AudioError(f"{source.name!r}: {_MAX_REPLACEMENTS} unreadable clips in a row near index {index}")
