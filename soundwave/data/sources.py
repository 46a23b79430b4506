"""Turn the `data:` config into loaded sources: samples (no audio decoded) plus a reader of their audio.

Each source is read by kind (manifest, audio folder, HF dataset), then checked the same way: durations
come from the data when it has them, else from audio headers (threads); samples outside the duration
limits or with unreadable audio are skipped and counted by reason. A source left empty is an error.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from pathlib import Path

from soundwave.config.data import DataConfig, SourceConfig
from soundwave.data.amount import parse_amount
from soundwave.data.audio_readers import AudioReader, FileAudio, measure_all
from soundwave.data.audiofolder import find_metadata, read_audiofolder
from soundwave.data.hf_source import is_hf_dataset_dir, read_hf_source
from soundwave.data.manifest import Sample, read_manifest
from soundwave.data.skips import TOO_LONG, TOO_SHORT, UNREADABLE_AUDIO, SkipCounter
from soundwave.errors import ConfigError, ManifestError

logger = logging.getLogger(__name__)


@dataclass
class LoadedSource:
    """One source, read and filtered: its samples and how to get their audio."""

    config: SourceConfig
    samples: list[Sample]
    reader: AudioReader | None  # None: a text-only source

    @property
    def name(self) -> str:
        """The source's label (its `name`, or one made from its path)."""
        return self.config.label

    @property
    def hours(self) -> float:
        """Hours of audio in the source."""
        return sum(s.duration or 0.0 for s in self.samples) / 3600


def resolve_kind(config: SourceConfig) -> str:
    """The kind of `config.path` ("manifest", "audiofolder" or "hf") when `kind` is "auto"."""
    if config.kind != "auto":
        return config.kind
    path = Path(config.path).expanduser()
    if path.is_file() and path.suffix == ".jsonl":
        return "manifest"
    if path.is_dir() and not is_hf_dataset_dir(path):
        if find_metadata(path, config.split) is None:
            raise ConfigError(
                f"{path}: a folder that is neither an HF dataset (save_to_disk) nor an audio folder "
                "(metadata.csv or metadata.jsonl with a file_name column)"
            )
        return "audiofolder"
    return "hf"


def _read_manifest_source(config: SourceConfig, prompt: str | None, data: DataConfig, skips: SkipCounter):
    if config.remap_keys:
        raise ConfigError(f"source {config.label!r}: remap_keys applies to HF datasets and audio folders")
    result = read_manifest(config.path, strict=data.strict, default_prompt=prompt, default_task=config.task)
    for bad in result.skipped:
        skips.skip(config.label, bad.code, f"{config.path}:{bad.line}: {bad.reason}")
    kept = parse_amount(config.amount).select(len(result.samples))
    return [result.samples[i] for i in kept]


def _filter(source: LoadedSource, data: DataConfig, skips: SkipCounter) -> LoadedSource:
    """Fill unknown durations (headers) and skip unreadable or out-of-range audio."""
    config = source.config
    low = config.min_duration if config.min_duration is not None else data.min_duration
    high = config.max_duration if config.max_duration is not None else data.max_duration
    if high is not None and high <= low:
        raise ConfigError(f"source {config.label!r}: max_duration {high} is not above min_duration {low}")
    unknown = [i for i, s in enumerate(source.samples) if s.audio is not None and s.duration is None]
    measured: dict[int, float | Exception] = {}
    if unknown and source.reader is not None:
        reader = source.reader
        results = measure_all(
            lambda j: reader.duration(unknown[j], source.samples[unknown[j]]),
            len(unknown),
            data.num_proc_for_preprocessing,
            desc=f"durations of {config.label}",
        )
        measured = dict(zip(unknown, results, strict=True))
    samples, positions = [], []
    for i, sample in enumerate(source.samples):
        where = f"{sample.audio} (line/row {sample.line})"
        if i in measured:
            result = measured[i]
            if isinstance(result, Exception):
                skips.skip(config.label, UNREADABLE_AUDIO, f"{where}: {result}")
                continue
            sample = replace(sample, duration=round(result, 4))
        if sample.duration is not None and sample.audio is not None:
            if sample.duration < low:
                skips.skip(config.label, TOO_SHORT, f"{where}: {sample.duration:.2f} s < min_duration {low}")
                continue
            if high is not None and sample.duration > high:
                skips.skip(config.label, TOO_LONG, f"{where}: {sample.duration:.2f} s > max_duration {high}")
                continue
        samples.append(sample)
        positions.append(i)
    reader = source.reader.select(positions) if source.reader is not None else None  # stay aligned
    return LoadedSource(config, samples, reader)


def first_hours(source: LoadedSource) -> LoadedSource:
    """The source's first samples (in its order, after `amount` and the duration filters) whose audio adds up to at
    most `config.hours`; all of it when `hours` is None. A smaller `hours` keeps a prefix of a larger one's samples,
    so data-size studies train on nested subsets. Text-only samples ride along with the audio before them."""
    limit = source.config.hours
    if limit is None:
        return source
    seconds, kept = 0.0, 0
    for sample in source.samples:
        seconds += sample.duration or 0.0
        if seconds > limit * 3600:
            break
        kept += 1
    if kept == len(source.samples) and seconds < 0.99 * limit * 3600:  # a data-size study would mislabel its point
        logger.warning("data: %s: hours: %g asked, only %.2f h there: all of it is used", source.config.label,
                       limit, seconds / 3600)  # fmt: skip
    reader = source.reader.select(list(range(kept))) if source.reader is not None else None
    return LoadedSource(source.config, source.samples[:kept], reader)


def load_source(config: SourceConfig, data: DataConfig, skips: SkipCounter) -> LoadedSource:
    """Read one source and check its samples.

    Raises:
        ConfigError: the path or its columns cannot be used.
        ManifestError: a bad sample in strict mode, or no usable sample left.
    """
    prompt = config.prompt if config.prompt is not None else data.prompt
    kind = resolve_kind(config)
    if kind == "manifest":
        loaded = LoadedSource(config, _read_manifest_source(config, prompt, data, skips), FileAudio())
    elif kind == "audiofolder":
        loaded = LoadedSource(config, read_audiofolder(config, prompt, skips), FileAudio())
    else:
        samples, reader = read_hf_source(config, prompt, skips)
        loaded = LoadedSource(config, samples, reader)
    loaded = first_hours(_filter(loaded, data, skips))
    if not loaded.samples:
        reasons = ", ".join(f"{code} {n}" for code, n in skips.by_source(config.label).items()) or "none"
        raise ManifestError(f"source {config.label!r} ({config.path}): no usable samples (skipped: {reasons})")
    logger.info(
        "data: %s: %d samples, %.2f h of audio, %d skipped",
        loaded.name,
        len(loaded.samples),
        loaded.hours,
        sum(skips.by_source(config.label).values()),
    )
    return loaded


def load_sources(data: DataConfig, skips: SkipCounter, which: str = "train") -> list[LoadedSource]:
    """Load the training sources (or the `eval_datasets`) of a data config.

    Args:
        data: the data config.
        skips: counts skipped samples; make it with ``SkipCounter(strict=data.strict)``.
        which: "train" (`data.datasets` or the seed's `data_path`) or "eval" (`data.eval_datasets`).

    Raises:
        ConfigError: no training data configured, or a source that cannot be read.
        ManifestError: a bad sample in strict mode, or a source with no usable sample.
    """
    if which not in ("train", "eval"):
        raise ValueError(f"which must be 'train' or 'eval', got {which!r}")
    configs = data.train_sources() if which == "train" else data.eval_datasets
    return [load_source(config, data, skips) for config in configs]
