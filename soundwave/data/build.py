"""From a `data:` config to what the training loop iterates: dataset, batch sampler, skip counts.

    data = build_training_data(cfg.data, batch_size=8, num_batches=max_steps * grad_accum,
                               rank=rank, world_size=world_size)
    loader = DataLoader(data.dataset, batch_sampler=data.sampler, collate_fn=collate, num_workers=4)
    data.skips.save(run_dir / "data_skips.json")
    # resume: data.sampler.load_state_dict({"batches": batches_trained})

With one pool (one source, or several with weight 1 and a constant T=1) the stream is plain shuffled
epochs over all samples. Otherwise sources are mixed with the temperature schedule (soundwave.data.mixing).
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass

import numpy as np

from soundwave.config.data import DataConfig
from soundwave.data.batching import LengthGroupedBatchSampler, eval_batches
from soundwave.data.dataset import SampleDataset
from soundwave.data.mixing import MixtureStream, Pool
from soundwave.data.skips import SkipCounter
from soundwave.data.sources import load_sources

logger = logging.getLogger(__name__)


@dataclass
class TrainingData:
    """The training data of a run, ready for a DataLoader."""

    dataset: SampleDataset
    sampler: LengthGroupedBatchSampler  # batch_sampler= of the DataLoader; resumable
    stream: MixtureStream  # the index stream behind the sampler (mixing probabilities, pools)
    skips: SkipCounter  # samples left out while loading, by source and reason

    @property
    def batches_per_epoch(self) -> int:
        """Batches per rank for one pass over all samples (to turn epochs into a number of batches)."""
        per_batch = self.sampler.batch_size * self.sampler.world_size
        return math.ceil(len(self.dataset) / per_batch)


@dataclass
class EvalData:
    """Evaluation data of one rank: every sample once over all ranks, batched by length."""

    dataset: SampleDataset
    batches: list[list[int]]  # batch_sampler= of the DataLoader
    skips: SkipCounter


def make_pools(dataset: SampleDataset, data: DataConfig) -> list[Pool]:
    """Pools to draw from: one per source ("source" balance), or per (source, task) ("task" balance).

    A single pool holds everything when there is nothing to balance: all weights 1 and T fixed at 1.
    """
    sources, schedule = dataset.sources, data.temperature
    plain = schedule.start == schedule.end == 1.0 and all(s.config.weight == 1.0 for s in sources)
    if plain:
        return [Pool("all", np.arange(len(dataset)), 1.0, "all")]
    pools = []
    for number, source in enumerate(sources):
        offset = int(dataset.offsets[number])
        if schedule.balance_by == "source":
            pools.append(Pool(source.name, offset + np.arange(len(source.samples)), source.config.weight, source.name))
            continue
        tasks = np.array([s.task for s in source.samples])
        for task in sorted(set(tasks.tolist())):
            indices = offset + np.flatnonzero(tasks == task)
            pools.append(Pool(f"{source.name}/{task}", indices, source.config.weight, task))
    return pools


def _log_mix(stream: MixtureStream) -> None:
    start, end = stream.probabilities(0.0), stream.probabilities(1.0)
    for pool, p0, p1 in zip(stream.pools, start, end, strict=True):
        logger.info(
            "data: pool %s: %d samples, weight %g, p %.3f -> %.3f",
            pool.name,
            len(pool.indices),
            pool.weight,
            p0,
            p1,
        )


def build_training_data(
    data: DataConfig,
    batch_size: int,
    num_batches: int,
    *,
    rank: int = 0,
    world_size: int = 1,
    skips: SkipCounter | None = None,
) -> TrainingData:
    """Load the training sources and set up mixing and length-grouped batching for one rank.

    Args:
        data: the data config.
        batch_size: samples per batch on this rank.
        num_batches: batches this rank draws over the whole run (optimizer steps × gradient accumulation);
            sets the temperature schedule's progress.
        rank: this process's rank.
        world_size: number of processes.
        skips: counter for skipped samples (None: a new one, strict as `data.strict`).

    Raises:
        ConfigError: no or unreadable training data.
        ManifestError: a bad sample in strict mode, or a source with no usable sample.
    """
    skips = skips if skips is not None else SkipCounter(strict=data.strict)
    dataset = SampleDataset(load_sources(data, skips), data.sampling_rate, data.strict)
    skips.log(logger)
    total = num_batches * batch_size * world_size
    stream = MixtureStream(make_pools(dataset, data), data.temperature, total, data.seed)
    _log_mix(stream)
    sampler = LengthGroupedBatchSampler(
        stream,
        dataset.lengths(),
        batch_size,
        num_batches,
        rank=rank,
        world_size=world_size,
        group_batches=data.length_group_batches,
        group_by_length=data.group_by_length,
        seed=data.seed,
    )
    return TrainingData(dataset, sampler, stream, skips)


def build_eval_data(
    data: DataConfig, batch_size: int, *, rank: int = 0, world_size: int = 1, skips: SkipCounter | None = None
) -> EvalData | None:
    """Load `data.eval_datasets` (None when there are none) with length-sorted batches for one rank."""
    if not data.eval_datasets:
        return None
    skips = skips if skips is not None else SkipCounter(strict=data.strict)
    dataset = SampleDataset(load_sources(data, skips, which="eval"), data.sampling_rate, data.strict)
    return EvalData(dataset, eval_batches(dataset.lengths(), batch_size, rank, world_size), skips)
