"""Data-parallel training: the process group, each process's rows of a global batch, and global loss means.

    torchrun --nproc_per_node 2 -m soundwave.training --config CONFIG                   # gloo on CPU, NCCL on GPU
    accelerate launch --multi_gpu --num_processes 2 -m soundwave.training --config CONFIG

Every process draws the same global batches (per_device_train_batch_size x processes samples, from one sampler)
and keeps its own slice, so the samples of an optimizer step depend on the global batch size, not on how many
processes share it. Each loss is weighted by what it averages over (answer tokens, scored audios) in the whole
global batch, so the gradient DDP averages and the loss logged are the global batch's own: 2 processes x 2
samples train as 1 process x 4.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator

import torch

from soundwave.errors import ConfigError

log = logging.getLogger(__name__)
LOSS_NAMES = ("ce_loss", "ctc_loss", "spelling_loss")  # every process reduces them in this order
_PROCESS_COUNT_VARS = ("WORLD_SIZE", "PMI_SIZE", "OMPI_COMM_WORLD_SIZE", "MV2_COMM_WORLD_SIZE")


def world_size() -> int:
    """Processes in the default process group (1 without one)."""
    dist = torch.distributed
    return dist.get_world_size() if dist.is_available() and dist.is_initialized() else 1


def make_accelerator(cfg):
    """The run's `accelerate.Accelerator`, with a process group whenever the launcher started several processes.

    - Without a GPU, accelerate forms a (gloo) group only when told `cpu=True`: torchrun's processes got none and
      trained independently, each writing `final/`.
    - `find_unused_parameters`: a batch can leave trainable parameters out of the graph (text-only rows: no audio
      adapter runs). DDP's reducer then waits for their gradients forever on that process while the others wait
      in the all-reduce, a deadlock; DDP finds such parameters after forward and counts them as reduced.
    - `split_batches=True`: the scheduler steps once per optimizer step. Accelerate would otherwise step it once
      per process, assuming a data loader it shortened itself (this trainer shards its batches itself).
    """
    from accelerate import Accelerator
    from accelerate.utils import DataLoaderConfiguration, DeepSpeedPlugin, DistributedDataParallelKwargs

    launched = max(int(os.environ.get(name, "1")) for name in _PROCESS_COUNT_VARS)
    if launched == 1 and "ACCELERATE_USE_CPU" in os.environ and os.environ.get("MASTER_ADDR"):
        # accelerate's one-process launcher, asked for several (it sets MASTER_ADDR only then): --cpu, or no GPU
        raise ConfigError(
            "accelerate launch started one process although several were asked for (with --cpu or without a GPU "
            "it starts one unless MPI is set up): use `accelerate launch --multi_gpu --num_processes N` (gloo on "
            "a machine without a GPU) or `torchrun --nproc_per_node N -m soundwave.training`"
        )
    precision = "bf16" if cfg.bf16 else "fp16" if cfg.fp16 else "no"
    if precision != "no" and not torch.cuda.is_available():
        log.warning("%s requested but no GPU: training in float32 on the CPU", precision)
        precision = "no"
    plugin = DeepSpeedPlugin(hf_ds_config=cfg.deepspeed) if cfg.deepspeed else None
    return Accelerator(
        cpu=launched > 1 and not torch.cuda.is_available(),
        gradient_accumulation_steps=cfg.gradient_accumulation_steps,
        mixed_precision=precision,
        deepspeed_plugin=plugin,
        dataloader_config=DataLoaderConfiguration(split_batches=True),
        kwargs_handlers=[DistributedDataParallelKwargs(find_unused_parameters=True)],
    )


class RankSlices(torch.utils.data.Sampler[list[int]]):
    """This process's rows of each global batch: rows [rank x n, (rank + 1) x n) of every batch `batches` yields,
    n = the global batch size / `world_size`. Resuming delegates to `batches` (its position counts global batches).

    Args:
        batches: a batch sampler of global batches (`LengthGroupedBatchSampler` with world_size 1).
        rank: this process's rank.
        world_size: number of processes; must divide the global batch size.
    """

    def __init__(self, batches, rank: int, world_size: int) -> None:
        if batches.batch_size % world_size:
            raise ValueError(f"a global batch of {batches.batch_size} does not split over {world_size} processes")
        self.batches, self.rank, self.world_size = batches, rank, world_size
        self.batch_size = batches.batch_size // world_size

    def __iter__(self) -> Iterator[list[int]]:
        start = self.rank * self.batch_size
        for batch in self.batches:
            yield batch[start : start + self.batch_size]

    def __len__(self) -> int:
        return len(self.batches)

    def state_dict(self) -> dict:
        return self.batches.state_dict()

    def load_state_dict(self, state: dict) -> None:
        self.batches.load_state_dict(state)


def global_means(losses: dict[str, torch.Tensor], units: dict[str, int]) -> tuple[dict[str, float], dict[str, float]]:
    """Each loss over the global batch, from this process's means and counts (one all-reduce).

    Args:
        losses: this process's mean losses (`ce_loss`, ...); a loss with nothing to score here is absent.
        units: what each loss averages over here (answer tokens, scored audios; `loss_units`).

    Returns:
        shares: per local loss, units here x processes / units everywhere: the factor that makes DDP's average of
            the processes' gradients the gradient of the global mean.
        means: per loss scored anywhere, its mean over the global batch.
    """
    nccl = torch.distributed.get_backend() == "nccl"
    device = torch.device("cuda", torch.cuda.current_device()) if nccl else torch.device("cpu")
    count = [float(units[n]) if n in losses else 0.0 for n in LOSS_NAMES]
    total = [float(losses[n].detach()) * units[n] if n in losses else 0.0 for n in LOSS_NAMES]
    stats = torch.tensor(count + total, dtype=torch.float64, device=device)
    torch.distributed.all_reduce(stats)
    counts, totals = stats[: len(LOSS_NAMES)].tolist(), stats[len(LOSS_NAMES) :].tolist()
    world = world_size()
    shares = {n: units[n] * world / max(counts[i], 1.0) for i, n in enumerate(LOSS_NAMES) if n in losses}
    means = {n: totals[i] / counts[i] for i, n in enumerate(LOSS_NAMES) if counts[i] > 0}
    return shares, means


def gather_objects(value) -> list:
    """`value` of every process, in rank order (picklable objects; `[value]` without a process group)."""
    if world_size() == 1:
        return [value]
    gathered = [None] * world_size()
    torch.distributed.all_gather_object(gathered, value)
    return gathered
