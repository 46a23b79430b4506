"""Length-grouped, sharded, resumable batches of dataset indices (a torch batch sampler).

The training stream (soundwave.data.mixing) is cut into windows of ``batch_size × group_batches ×
world_size`` positions. Within a window, samples are sorted by length and cut into batches, so a batch
holds samples of similar length (little padding), and the batches' order is shuffled, so lengths do not
trend within the window (the megabatch trick of HF's LengthGroupedSampler). Global batch g goes to rank
``g % world_size``, so the ranks share the same windows and never see the same sample at the same step.
Everything is a function of (seed, step): resuming is `load_state_dict({"batches": steps_done})`.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Protocol

import numpy as np
import torch

_SHUFFLE = 3  # RNG stream tag (see soundwave.data.mixing)


class IndexStream(Protocol):
    """An endless stream of dataset indices, addressable by position (e.g. a MixtureStream)."""

    def take(self, start: int, count: int) -> np.ndarray:
        """(count,) dataset indices at positions [start, start + count)."""
        ...


def length_grouped_batches(
    indices: np.ndarray, lengths: np.ndarray, batch_size: int, rng: np.random.Generator | None
) -> list[np.ndarray]:
    """Sort `indices` by length, cut them into batches, then shuffle the batches' order.

    An index that occurs several times (a window longer than a small dataset spans several passes) is sorted
    with its k-th occurrence among the other k-th occurrences, so its copies land in different batches instead
    of side by side (a tiny set would otherwise give batches of one sample repeated).

    Args:
        indices: (n,) dataset indices, n a multiple of batch_size.
        lengths: (N,) length of every dataset sample (seconds; any monotonic size works).
        batch_size: samples per batch.
        rng: shuffles the batch order (None: longest batch first, e.g. for evaluation).

    Returns:
        n / batch_size arrays of batch_size dataset indices.
    """
    first = np.argsort(indices, kind="stable")  # copies of an index next to each other, in stream order
    occurrence = np.empty(len(indices), dtype=np.int64)  # (n,) 0 for an index's first copy, 1 for its second, ...
    starts = np.r_[True, indices[first][1:] != indices[first][:-1]]
    run_start = np.maximum.accumulate(np.where(starts, np.arange(len(first)), 0))
    occurrence[first] = np.arange(len(first)) - run_start
    order = indices[np.lexsort((lengths[indices], occurrence))]  # by occurrence, then by length (both stable)
    batches = [order[i : i + batch_size] for i in range(0, len(order), batch_size)]
    if rng is None:
        return batches[::-1]
    return [batches[i] for i in rng.permutation(len(batches))]


def padding_fraction(batches: Sequence[Sequence[int]], lengths: np.ndarray) -> float:
    """Share of a padded batch that is padding: 1 - sum(lengths) / sum(batch max × batch size)."""
    used = sum(float(lengths[list(b)].sum()) for b in batches)
    padded = sum(float(lengths[list(b)].max()) * len(b) for b in batches)
    return 1.0 - used / padded if padded else 0.0


class LengthGroupedBatchSampler(torch.utils.data.Sampler[list[int]]):
    """Batches of dataset indices for one rank, drawn from a stream, grouped by length.

    Pass it to ``DataLoader(dataset, batch_sampler=sampler, collate_fn=...)``.

    Args:
        stream: where indices come from (MixtureStream).
        lengths: (N,) length of every dataset sample (`SampleDataset.lengths()`).
        batch_size: samples per batch on this rank.
        num_batches: batches this rank yields in the whole run (training steps × gradient accumulation).
        rank: this process's rank.
        world_size: number of processes.
        group_batches: batches per rank sorted together in one window (larger: less padding, less random).
        group_by_length: sort windows by length; off: batches in stream order.
        seed: shuffles the batches' order within windows.
    """

    def __init__(
        self,
        stream: IndexStream,
        lengths: np.ndarray,
        batch_size: int,
        num_batches: int,
        *,
        rank: int = 0,
        world_size: int = 1,
        group_batches: int = 64,
        group_by_length: bool = True,
        seed: int = 0,
    ) -> None:
        if batch_size < 1 or num_batches < 0 or group_batches < 1:
            raise ValueError(
                f"need batch_size >= 1, num_batches >= 0, group_batches >= 1, got {batch_size}, "
                f"{num_batches}, {group_batches}"
            )
        if not 0 <= rank < world_size:
            raise ValueError(f"rank {rank} is not in [0, world_size={world_size})")
        self.stream = stream
        self.lengths = np.asarray(lengths, dtype=np.float64)
        self.batch_size = batch_size
        self.num_batches = num_batches
        self.rank = rank
        self.world_size = world_size
        self.group_batches = group_batches
        self.group_by_length = group_by_length
        self.seed = seed
        self.position = 0  # batches of this rank already handed out
        self._window: tuple[int, list[np.ndarray]] | None = None

    @property
    def batches_per_window(self) -> int:
        """Global batches (all ranks) per window."""
        return self.group_batches * self.world_size

    def window(self, number: int) -> list[np.ndarray]:
        """The global batches of window `number` (all ranks), in the order they are handed out."""
        if self._window is None or self._window[0] != number:
            size = self.batches_per_window * self.batch_size
            indices = self.stream.take(number * size, size)
            if self.group_by_length:
                rng = np.random.default_rng([self.seed, _SHUFFLE, number])
                batches = length_grouped_batches(indices, self.lengths, self.batch_size, rng)
            else:
                batches = [indices[i : i + self.batch_size] for i in range(0, size, self.batch_size)]
            self._window = (number, batches)
        return self._window[1]

    def batch(self, step: int) -> list[int]:
        """This rank's batch at `step` (0-based), independent of what was iterated before."""
        global_batch = step * self.world_size + self.rank
        number, offset = divmod(global_batch, self.batches_per_window)
        return self.window(number)[offset].tolist()

    def __iter__(self) -> Iterator[list[int]]:
        while self.position < self.num_batches:
            batch = self.batch(self.position)
            self.position += 1
            yield batch

    def __len__(self) -> int:
        return self.num_batches - self.position

    def state_dict(self) -> dict[str, int]:
        """Where the sampler is. With a DataLoader the sampler runs ahead of training (prefetch): save
        ``{"batches": batches_trained}`` from the loop instead of this when resuming must be exact."""
        return {
            "batches": self.position,
            "batch_size": self.batch_size,
            "world_size": self.world_size,
            "seed": self.seed,
        }

    def load_state_dict(self, state: dict[str, int]) -> None:
        """Continue after ``state["batches"]`` batches; the next batch is the one that would have followed.

        Raises:
            ValueError: the state was saved with a different batch size, world size or seed (the stream would
                not continue where it stopped).
        """
        for key in ("batch_size", "world_size", "seed"):
            if key in state and state[key] != getattr(self, key):
                raise ValueError(
                    f"cannot resume: the data position was saved with {key}={state[key]}, "
                    f"this run has {key}={getattr(self, key)}"
                )
        self.position = int(state["batches"])


def eval_batches(lengths: np.ndarray, batch_size: int, rank: int = 0, world_size: int = 1) -> list[list[int]]:
    """Batches for evaluation: every index once over all ranks, grouped by length, longest first.

    Args:
        lengths: (N,) sample lengths.
        batch_size: samples per batch.
        rank: this process's rank; gets batches rank, rank + world_size, ...
        world_size: number of processes.
    """
    indices = np.arange(len(lengths))
    batches = length_grouped_batches(indices, np.asarray(lengths, dtype=np.float64), batch_size, rng=None)
    return [b.tolist() for b in batches[rank::world_size]]
