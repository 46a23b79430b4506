"""The `data:` section of a run config: which datasets, how they are cut, filtered and mixed.

Two ways to name the data, one per config:

- one dataset with the SpeechLLM seed's keys, which load as the seed writes them::

      data:
        data_path: "parler-tts/libritts_r_filtered"   # hub name, dataset dir, manifest or audio folder
        subset: "clean"
        split: "train.clean.100"
        amount: ":100%"
        remap_keys: {"text_normalized": "transcription"}
        sampling_rate: 16000
        min_duration: 0.01
        max_duration: 15.0
        num_proc_for_preprocessing: 4

- a mix of datasets, each with a weight and a task, sampled with a temperature schedule that moves from
  data-proportional (T=1) toward balanced (large T) over training, as in the Soundwave paper's stage 2::

      data:
        datasets:
          - {path: data/asr.jsonl, task: asr}
          - {path: data/st.jsonl, task: st, weight: 2.0, prompt: "Translate the speech into German."}
          - {path: data/alpaca.jsonl, task: text}             # text-only lines: no audio
        temperature: {start: 1.0, end: 5.0}
        max_duration: 30.0
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from soundwave.data.amount import parse_amount
from soundwave.errors import ConfigError

SourceKind = Literal["auto", "manifest", "audiofolder", "hf"]


def _check_amount(amount: str, key: str) -> None:
    try:
        parse_amount(amount)
    except ValueError as err:
        raise ConfigError(f"{key}: {err}") from None


def _check_durations(min_duration: float | None, max_duration: float | None, where: str) -> None:
    if min_duration is not None and min_duration < 0:
        raise ConfigError(f"{where}min_duration must be >= 0 seconds, got {min_duration}")
    if max_duration is not None and max_duration <= (min_duration or 0.0):
        raise ConfigError(
            f"{where}max_duration ({max_duration}) must be greater than min_duration ({min_duration or 0.0})"
        )


@dataclass(frozen=True)
class SourceConfig:
    """One dataset in a mix.

    `path` is read by `kind`; with "auto": a ``.jsonl`` file is a manifest, a folder holding
    ``metadata.csv``/``metadata.jsonl`` an audio folder, a folder written by ``save_to_disk`` or a
    ``.csv``/``.json``/``.parquet``/``.arrow`` file an HF dataset, and anything else an HF hub name.
    HF datasets and audio folders use the columns ``audio``, ``transcription`` (or ``transcript``),
    ``prompt``, ``answer``, ``task``, ``id``, ``duration``; map other names with `remap_keys`. A dataset
    without an ``audio`` column is text-only and must name a task other than "asr".
    """

    path: str  # manifest .jsonl, audio folder, HF dataset dir or data file, or HF hub name
    kind: SourceKind = "auto"
    name: str | None = None  # label in logs, skip counts and mixing stats (None: from the path)
    task: str | None = None  # task of samples that name none (None: "asr" with audio, "text" without)
    prompt: str | None = None  # instruction of samples that have none (None: data.prompt)
    weight: float = 1.0  # multiplies the source's size in the mix: 2.0 counts it twice at T=1
    subset: str | None = None  # HF dataset config name (hub datasets only)
    split: str = "train"  # HF split (hub datasets and save_to_disk dicts)
    amount: str = ":100%"  # which rows: ":100%", ":1000", "10%:20%", "-500:"
    hours: float | None = None  # keep the first usable samples up to this much audio (None: all); nested subsets
    remap_keys: dict[str, str] = field(default_factory=dict)  # dataset column -> expected name
    min_duration: float | None = None  # seconds; None: data.min_duration
    max_duration: float | None = None  # seconds; None: data.max_duration

    def __post_init__(self) -> None:
        if not self.path.strip():
            raise ConfigError("path must name a dataset, got an empty string")
        if self.weight <= 0:
            raise ConfigError(f"weight must be positive, got {self.weight}")
        if self.name is not None and not self.name.strip():
            raise ConfigError("name must not be empty (leave it out to use the path)")
        _check_amount(self.amount, "amount")
        _check_durations(self.min_duration, self.max_duration, "")
        if self.hours is not None and not 0 < self.hours < float("inf"):
            raise ConfigError(f"hours must be a positive number of hours of audio, got {self.hours}")

    @property
    def label(self) -> str:
        """The source's name, or one made from its path: ``data/asr.jsonl`` -> ``asr``."""
        if self.name:
            return self.name
        stem = Path(self.path.rstrip("/")).stem or self.path
        return stem if self.split == "train" else f"{stem}:{self.split}"


@dataclass(frozen=True)
class TemperatureSchedule:
    """Sampling temperature over training: source/task i is drawn with p_i ∝ n_i^(1/T).

    T=1 samples in proportion to (weighted) size; T -> infinity samples uniformly. T moves linearly from
    `start` at the first sample to `end` at the last (the Soundwave paper's stage 2: data-proportional
    -> balanced).
    """

    start: float = 1.0
    end: float = 1.0
    balance_by: Literal["task", "source"] = "task"  # what the temperature balances; within a group: ∝ size

    def __post_init__(self) -> None:
        if self.start <= 0 or self.end <= 0:
            raise ConfigError(f"temperature start and end must be positive, got {self.start} and {self.end}")

    def at(self, progress: float) -> float:
        """T at `progress` in [0, 1] of training."""
        progress = min(max(progress, 0.0), 1.0)
        return self.start + (self.end - self.start) * progress


@dataclass(frozen=True)
class DataConfig:
    """Training and evaluation data: one dataset (the seed's keys) or a mix (`datasets`)."""

    # One dataset: the SpeechLLM seed's keys. Leave data_path out when using `datasets`.
    data_path: str | None = None  # HF hub name, local dataset dir, manifest .jsonl or audio folder
    subset: str | None = None  # HF dataset config name
    split: str | None = None  # HF split (None: "train")
    amount: str | None = None  # which rows (None: ":100%"); see SourceConfig.amount
    remap_keys: dict[str, str] = field(default_factory=dict)  # dataset column -> expected name
    # Applied to every source.
    sampling_rate: int = 16_000  # waveforms are resampled to this rate (Whisper: 16 kHz)
    min_duration: float = 0.0  # seconds; shorter audio is skipped
    max_duration: float | None = 30.0  # seconds; longer audio is skipped (Whisper sees 30 s); None: no limit
    num_proc_for_preprocessing: int = 1  # threads that read audio headers to measure durations
    prompt: str | None = None  # instruction for samples with none (None: only ASR samples may lack one)
    strict: bool = False  # raise at the first bad sample instead of skipping and counting it
    # A mix of datasets.
    datasets: tuple[SourceConfig, ...] = ()
    temperature: TemperatureSchedule = field(default_factory=TemperatureSchedule)
    eval_datasets: tuple[SourceConfig, ...] = ()  # read in order, no mixing
    # Batching.
    group_by_length: bool = True  # batch samples of similar duration together (less padding)
    length_group_batches: int = 64  # batches sorted together per shuffled group (bigger: less padding)
    seed: int = 0  # shuffling and mixing order

    def __post_init__(self) -> None:
        if self.data_path is not None and self.datasets:
            raise ConfigError("set either data_path (one dataset) or datasets (a mix), not both")
        if self.data_path is None:
            stray = [k for k in ("subset", "split", "amount") if getattr(self, k) is not None]
            stray += ["remap_keys"] if self.remap_keys else []
            if stray:
                raise ConfigError(
                    f"{', '.join(stray)} apply to data_path, which is not set; with `datasets`, set them on each entry"
                )
        if self.amount is not None:
            _check_amount(self.amount, "amount")
        if self.sampling_rate <= 0:
            raise ConfigError(f"sampling_rate must be positive, got {self.sampling_rate}")
        _check_durations(self.min_duration, self.max_duration, "")
        if self.num_proc_for_preprocessing < 1:
            raise ConfigError(f"num_proc_for_preprocessing must be >= 1, got {self.num_proc_for_preprocessing}")
        if self.length_group_batches < 1:
            raise ConfigError(f"length_group_batches must be >= 1, got {self.length_group_batches}")
        for key, sources in (("datasets", self.datasets), ("eval_datasets", self.eval_datasets)):
            labels = [s.label for s in sources]
            repeated = sorted({x for x in labels if labels.count(x) > 1})
            if repeated:
                raise ConfigError(f"{key}: several sources are called {repeated}; give each a distinct `name`")

    def train_sources(self) -> tuple[SourceConfig, ...]:
        """The training sources: `datasets`, or the one dataset the seed keys describe.

        Raises:
            ConfigError: no training data is configured.
        """
        if self.data_path is not None:
            source = SourceConfig(
                path=self.data_path,
                subset=self.subset,
                split=self.split or "train",
                amount=self.amount or ":100%",
                remap_keys=dict(self.remap_keys),
            )
            return (source,)
        if not self.datasets:
            raise ConfigError("no training data: set data.data_path (one dataset) or data.datasets (a mix)")
        return self.datasets
