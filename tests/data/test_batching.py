"""Batching: length grouping cuts padding, ranks get disjoint batches, resuming continues the same order."""

from __future__ import annotations

import numpy as np
import pytest

from soundwave.config.data import TemperatureSchedule
from soundwave.data.batching import LengthGroupedBatchSampler, eval_batches, padding_fraction
from soundwave.data.mixing import MixtureStream, Pool

N = 2000
LENGTHS = np.random.default_rng(0).uniform(1.0, 30.0, size=N)  # seconds, like speech clips up to 30 s


def sampler(num_batches=100, batch_size=8, **kwargs) -> LengthGroupedBatchSampler:
    stream = MixtureStream([Pool("all", np.arange(N))], TemperatureSchedule(), total=None, seed=0)
    return LengthGroupedBatchSampler(stream, LENGTHS, batch_size, num_batches, **kwargs)


def test_length_grouping_reduces_padding():
    grouped = list(sampler(group_by_length=True, group_batches=50))
    plain = list(sampler(group_by_length=False))
    grouped_pad, plain_pad = padding_fraction(grouped, LENGTHS), padding_fraction(plain, LENGTHS)
    # Uniform 1-30 s clips in random batches of 8: about 35 % of a padded batch is padding.
    assert plain_pad > 0.25
    assert grouped_pad < 0.05 and grouped_pad < plain_pad / 5
    assert all(len(b) == 8 for b in grouped)
    # The batches' order is shuffled: lengths do not rise or fall steadily through the run.
    batch_means = np.array([LENGTHS[b].mean() for b in grouped[:50]])
    assert abs(np.corrcoef(np.arange(50), batch_means)[0, 1]) < 0.5


def test_ranks_get_disjoint_batches_of_the_same_windows():
    world = 4
    ranks = [list(sampler(num_batches=20, rank=r, world_size=world, group_batches=5)) for r in range(world)]
    for step in range(20):
        seen = [i for r in range(world) for i in ranks[r][step]]
        assert len(seen) == len(set(seen)) == 4 * 8  # no sample twice in one global step
    everything = [i for r in ranks for b in r for i in b]
    assert len(set(everything)) == len(everything) == 640  # 640 < N: a first epoch never repeats
    with pytest.raises(ValueError, match="rank 4 is not in"):
        sampler(rank=4, world_size=4)


def test_resume_gives_the_same_remaining_batches():
    full = list(sampler(num_batches=60, group_batches=7))
    first = sampler(num_batches=60, group_batches=7)
    head = [b for _, b in zip(range(23), first, strict=False)]
    state = first.state_dict()
    assert state["batches"] == 23
    resumed = sampler(num_batches=60, group_batches=7)
    resumed.load_state_dict(state)
    assert len(resumed) == 37
    assert head + list(resumed) == full
    with pytest.raises(ValueError, match="batch_size=8, this run has batch_size=4"):
        sampler(batch_size=4).load_state_dict(state)


def test_eval_batches_cover_every_sample_once():
    batches = [b for r in range(3) for b in eval_batches(LENGTHS[:101], batch_size=10, rank=r, world_size=3)]
    assert sorted(i for b in batches for i in b) == list(range(101))
    assert padding_fraction(batches, LENGTHS) < 0.1
