"""Mixing: measured frequencies follow n^(1/T), the schedule moves, the stream is seekable and epoch-exact."""

from __future__ import annotations

import numpy as np
import pytest

from soundwave.config.data import TemperatureSchedule
from soundwave.data.mixing import BLOCK, MixtureStream, Pool, mixture_probabilities

SIZES = (8000, 1600, 400)  # ratio 20 : 4 : 1


def pools(groups=("asr", "st", "qa"), weights=(1.0, 1.0, 1.0)) -> list[Pool]:
    starts = np.cumsum((0, *SIZES))
    return [
        Pool(g, np.arange(starts[i], starts[i + 1]), w, g) for i, (g, w) in enumerate(zip(groups, weights, strict=True))
    ]


def pool_of(indices: np.ndarray) -> np.ndarray:
    return np.searchsorted(np.cumsum(SIZES), indices, side="right")  # (n,) pool number of each index


def measured(stream: MixtureStream, start: int, count: int) -> np.ndarray:
    return np.bincount(pool_of(stream.take(start, count)), minlength=3) / count


@pytest.mark.parametrize(("temperature", "expected"), [(1.0, (0.8, 0.16, 0.04)), (1000.0, (1 / 3, 1 / 3, 1 / 3))])
def test_measured_frequencies_at_fixed_temperature(temperature, expected):
    stream = MixtureStream(pools(), TemperatureSchedule(temperature, temperature), total=None, seed=1)
    frequencies = measured(stream, 0, 40_000)
    np.testing.assert_allclose(frequencies, expected, atol=0.01)
    # T=2: p ∝ sqrt(n) = 20^.5 : 4^.5 : 1
    exact = mixture_probabilities(SIZES, ["a", "b", "c"], 2.0)
    np.testing.assert_allclose(exact, np.sqrt([20, 4, 1]) / np.sqrt([20, 4, 1]).sum())


def test_schedule_moves_from_proportional_to_balanced():
    total = 600_000
    stream = MixtureStream(pools(), TemperatureSchedule(1.0, 50.0), total=total, seed=0)
    early, late = measured(stream, 0, 3_000), measured(stream, total - 3_000, 3_000)
    assert early[0] > 0.72 and early[2] < 0.07  # T <= 1.25: near data-proportional (0.8, 0.16, 0.04)
    assert late[0] < 0.38 and late[2] > 0.29  # T ~ 50: near balanced (1/3 each)


def test_weights_and_groups():
    # weight 5 on the smallest source: its weighted size is 2000, st+qa grouped as one task.
    p = mixture_probabilities(SIZES, ["asr", "other", "other"], 1.0, weights=(1.0, 1.0, 5.0))
    np.testing.assert_allclose(p, np.array([8000, 1600, 2000]) / 11_600)
    p = mixture_probabilities(SIZES, ["asr", "other", "other"], 1e9)  # balanced between the two groups
    np.testing.assert_allclose(p, [0.5, 0.5 * 1600 / 2000, 0.5 * 400 / 2000], rtol=1e-6)


def test_stream_is_deterministic_and_seekable():
    schedule = TemperatureSchedule(1.0, 5.0)
    whole = MixtureStream(pools(), schedule, total=10_000, seed=3).take(0, 10_000)
    again = MixtureStream(pools(), schedule, total=10_000, seed=3)
    assert np.array_equal(again.take(0, 10_000), whole)
    # A fresh stream seeking to any position (mid-block too) continues exactly: this is resuming.
    for start in (0, 1, BLOCK - 1, 3 * BLOCK + 17, 9_000):
        fresh = MixtureStream(pools(), schedule, total=10_000, seed=3)
        assert np.array_equal(fresh.take(start, 700), whole[start : start + 700])
    stopped = MixtureStream(pools(), schedule, total=10_000, seed=3)
    head = np.concatenate([stopped.next(100), stopped.next(1500)])
    resumed = MixtureStream(pools(), schedule, total=10_000, seed=3)
    resumed.load_state_dict(stopped.state_dict())
    assert np.array_equal(np.concatenate([head, resumed.next(2000)]), whole[:3600])
    other_seed = MixtureStream(pools(), schedule, total=10_000, seed=4).take(0, 10_000)
    assert not np.array_equal(other_seed, whole)


def test_one_pool_is_shuffled_epochs():
    stream = MixtureStream([Pool("all", np.arange(50, 150))], TemperatureSchedule(), total=None, seed=0)
    drawn = stream.take(0, 300)
    for epoch in range(3):
        assert sorted(drawn[epoch * 100 : (epoch + 1) * 100]) == list(range(50, 150))  # each sample once
    assert not np.array_equal(drawn[:100], drawn[100:200])  # a new order every epoch
