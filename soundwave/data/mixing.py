"""Weighted mixing of datasets with a temperature schedule, as a deterministic, seekable index stream.

Samples are grouped into pools (a source, or the samples of one task in a source). A group (a task or a
source) is drawn with probability ∝ M_g^(1/T), where M_g is the weighted size of the group (sum of
weight × size of its pools), and a pool within its group ∝ its weighted size. T=1 is data-proportional;
large T is balanced; T moves linearly from `start` to `end` over training (Soundwave paper, stage 2).
Within a pool, samples come in a fresh random order each pass (no repeats before the pool is used up).

Position k of the stream depends only on (seed, k), so a run resumes exactly by seeking to its position.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from soundwave.config.data import TemperatureSchedule

BLOCK = 1024  # stream positions drawn per RNG call; T is held fixed within a block
_DRAW, _ORDER = 1, 2  # RNG stream tags, so pool choices and pool orders never share random numbers


@dataclass(frozen=True)
class Pool:
    """Samples drawn as one unit: dataset indices, a weight and the group the temperature balances."""

    name: str
    indices: np.ndarray  # (n,) dataset indices
    weight: float = 1.0
    group: str = ""  # task or source name; pools of a group share its probability ∝ their size


def mixture_probabilities(
    sizes: Sequence[float], groups: Sequence[str], temperature: float, weights: Sequence[float] | None = None
) -> np.ndarray:
    """Probability of drawing each pool.

    Args:
        sizes: (P,) number of samples per pool.
        groups: (P,) group of each pool.
        temperature: T > 0; the group probability is ∝ (weighted group size)^(1/T).
        weights: (P,) multipliers of the sizes (None: all 1).

    Returns:
        (P,) probabilities summing to 1.
    """
    mass = np.asarray(sizes, dtype=np.float64) * (1.0 if weights is None else np.asarray(weights, np.float64))
    names = sorted(set(groups))
    member = np.array([names.index(g) for g in groups])  # (P,) group number of each pool
    group_mass = np.bincount(member, weights=mass, minlength=len(names))  # (G,)
    # Normalise before the power so large sizes cannot overflow: (M/max)^(1/T) ∝ M^(1/T).
    group_prob = (group_mass / group_mass.max()) ** (1.0 / temperature)
    group_prob /= group_prob.sum()
    return group_prob[member] * mass / group_mass[member]


class MixtureStream:
    """An endless, deterministic stream of dataset indices drawn from pools.

    Args:
        pools: the pools; with one pool the stream is a sequence of shuffled epochs.
        schedule: the temperature schedule.
        total: stream positions in the whole run (sets the schedule's progress); None: T stays at `start`.
        seed: the seed; the stream is a function of (seed, position) only.
    """

    def __init__(self, pools: Sequence[Pool], schedule: TemperatureSchedule, total: int | None, seed: int = 0):
        if not pools or any(len(p.indices) == 0 for p in pools):
            raise ValueError("a mixture needs at least one pool, and no empty pool")
        self.pools = list(pools)
        self.schedule = schedule
        self.total = total
        self.seed = seed
        self._sizes = np.array([len(p.indices) for p in self.pools], dtype=np.float64)
        self._groups = [p.group for p in self.pools]
        self._weights = np.array([p.weight for p in self.pools])
        self._block = 0  # first block not yet counted in _counts
        self._counts = np.zeros(len(self.pools), dtype=np.int64)  # draws per pool before block _block
        self._orders: dict[tuple[int, int], np.ndarray] = {}  # (pool, pass) -> permutation of the pool
        self._last: tuple[int, np.ndarray] | None = None  # (block, _counts before it): the latest block
        self.position = 0  # next position handed out by `next`

    def probabilities(self, progress: float) -> np.ndarray:
        """(P,) pool probabilities at `progress` in [0, 1] of the run."""
        temperature = self.schedule.at(progress)
        return mixture_probabilities(self._sizes, self._groups, temperature, self._weights)

    def _choices(self, block: int) -> np.ndarray:
        """(BLOCK,) pool drawn at each position of a block."""
        middle = (block + 0.5) * BLOCK
        progress = middle / self.total if self.total else 0.0
        rng = np.random.default_rng([self.seed, _DRAW, block])
        return rng.choice(len(self.pools), size=BLOCK, p=self.probabilities(progress))

    def _order(self, pool: int, epoch: int) -> np.ndarray:
        key = (pool, epoch)
        if key not in self._orders:
            for old in [k for k in self._orders if k[0] == pool and k[1] < epoch - 1]:
                del self._orders[old]  # keep at most two passes per pool
            rng = np.random.default_rng([self.seed, _ORDER, pool, epoch])
            self._orders[key] = rng.permutation(len(self.pools[pool].indices))
        return self._orders[key]

    def _seek(self, block: int) -> None:
        """Make _counts hold the draws per pool before `block` (replaying choices: cheap, no audio)."""
        if block < self._block:
            if self._last is not None and self._last[0] == block:  # consecutive windows share a block
                self._block, self._counts = block, self._last[1].copy()
            else:
                self._block, self._counts = 0, np.zeros_like(self._counts)
        while self._block < block:
            self._counts += np.bincount(self._choices(self._block), minlength=len(self.pools))
            self._block += 1

    def take(self, start: int, count: int) -> np.ndarray:
        """(count,) dataset indices at stream positions [start, start + count)."""
        if count <= 0:
            return np.empty(0, dtype=np.int64)
        first, last = start // BLOCK, (start + count - 1) // BLOCK
        self._seek(first)
        out = []
        for block in range(first, last + 1):
            self._last = (block, self._counts.copy())
            choices = self._choices(block)
            indices = np.empty(BLOCK, dtype=np.int64)
            for pool in np.unique(choices):
                where = np.flatnonzero(choices == pool)  # positions in the block drawing this pool
                ordinals = self._counts[pool] + np.arange(len(where))  # (k,) draw number within the pool
                size = len(self.pools[pool].indices)
                picks = np.empty(len(where), dtype=np.int64)
                for epoch in np.unique(ordinals // size):
                    in_epoch = ordinals // size == epoch
                    picks[in_epoch] = self._order(pool, int(epoch))[ordinals[in_epoch] % size]
                indices[where] = self.pools[pool].indices[picks]
                self._counts[pool] += len(where)
            self._block = block + 1
            out.append(indices)
        stream = np.concatenate(out)  # positions [first * BLOCK, (last + 1) * BLOCK)
        return stream[start - first * BLOCK : start - first * BLOCK + count]

    def next(self, count: int) -> np.ndarray:
        """(count,) the next dataset indices of the stream (from `position`), advancing it."""
        indices = self.take(self.position, count)
        self.position += count
        return indices

    def state_dict(self) -> dict[str, int]:
        """The stream's position and seed (all it needs to continue)."""
        return {"position": self.position, "seed": self.seed}

    def load_state_dict(self, state: dict[str, int]) -> None:
        """Continue from a saved position.

        Raises:
            ValueError: the state was saved with another seed.
        """
        if state.get("seed", self.seed) != self.seed:
            raise ValueError(f"cannot resume: the stream was saved with seed {state['seed']}, this one has {self.seed}")
        self.position = int(state["position"])
