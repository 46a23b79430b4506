"""The training loop: one explicit loop on `accelerate` for every stage (stages differ by config only).

    seed -> build the model from its base parts -> init_from the previous stage -> choose what trains ->
    data -> optimizer + schedule -> loop (step, clip, log every N, validate every M, checkpoint every K) ->
    final model (compact format) + training-curve PNG.

Runs on CPU, one GPU, or many under `accelerate launch` / `torchrun` (DDP with one process group, gloo on CPU and
NCCL on GPUs, `soundwave.training.distributed`; DeepSpeed and FSDP through accelerate's plugins): the main process
logs and saves, and 2 processes x 2 samples train as 1 x 4. `resume=True` continues from the newest complete
checkpoint to the same losses an uninterrupted run gets. A loss or gradient norm that is not finite stops the run
without saving a final model (`training.on_nonfinite_loss: skip` drops that step instead).
"""

from __future__ import annotations

import json
import logging
import math
import time
from pathlib import Path

import torch
import yaml
from torch.utils.data import DataLoader
from tqdm import tqdm

from soundwave.config.loader import save_config
from soundwave.errors import CheckpointError, ConfigError, TrainingError
from soundwave.processor import processor_for
from soundwave.training.collate import TrainBatch, TrainingCollator
from soundwave.training.config import RunConfig, TrainingConfig
from soundwave.training.ctc_targets import CtcTargets
from soundwave.training.distributed import RankSlices, make_accelerator
from soundwave.training.losses import StageObjective
from soundwave.training.spec_augment import frame_augment, spec_augment
from soundwave.training.state import (
    apply_checkpoint,
    newest_readable_checkpoint,
    remove_stale_temporaries,
    save_checkpoint,
)
from soundwave.training.validate import validate

log = logging.getLogger(__name__)
FINAL_DIR = "final"
METRICS_FILE = "metrics.jsonl"


# ---- set-up ---------------------------------------------------------------------------------------------------
STOP_FILE = "STOP"  # `touch RUN_DIR/STOP`: end the run after the current step, saving the final model as usual


def stop_requested(run_dir: Path, accelerator) -> bool:
    """Whether someone asked this run to stop (the file is removed, so a later --resume goes on)."""
    found = False
    if accelerator.is_main_process:
        stop = run_dir / STOP_FILE
        found = stop.exists()
        stop.unlink(missing_ok=True)
    if accelerator.num_processes > 1:  # every process must stop at the same step
        from accelerate.utils import broadcast

        found = bool(broadcast(torch.tensor([int(found)], device=accelerator.device))[0])
    return found


def init_from_previous(model, path: str | Path, exclude: tuple[str, ...] = ()) -> Path:
    """Load the previous stage's trained tensors (its `final/` compact model) into `model`, except the parameters
    matching an `exclude` glob, which keep their fresh initialization."""
    from fnmatch import fnmatch

    from soundwave.model.checkpoint import read_weights
    from soundwave.model.compact import META_FILE, WEIGHTS_FILE, apply_compact_tensors, is_compact

    path = Path(path)
    if (path / FINAL_DIR).is_dir():
        path = path / FINAL_DIR
    if not is_compact(path):
        raise CheckpointError(f"training.init_from: {path} is not a trained model (no {META_FILE}); run that stage")
    meta = yaml.safe_load((path / META_FILE).read_text())
    tensors = read_weights(path / WEIGHTS_FILE)
    unmatched = [pattern for pattern in exclude if not any(fnmatch(k, pattern) for k in tensors)]
    if unmatched:
        raise ConfigError(f"training.init_from_exclude: {unmatched} match no tensor of {path / WEIGHTS_FILE}")
    tensors = {k: v for k, v in tensors.items() if not any(fnmatch(k, pattern) for pattern in exclude)}
    base_vocab = meta["base"]["llm"]["vocab_size"]
    apply_compact_tensors(model, tensors, base_vocab, path, bool(meta.get("ctc_head_from_embeddings")))
    return path


def configure_trainable(model, cfg: TrainingConfig) -> int:
    """`trainable` globs (empty: all), then freeze `freeze_modules` groups and `frozen` globs. Returns the count."""
    from fnmatch import fnmatch

    from soundwave.model.trainable import set_trainable

    set_trainable(model, cfg.trainable or ("*",))
    frozen = [p for p in cfg.frozen_patterns if any(fnmatch(n, p) for n, _ in model.named_parameters())]
    for name, param in model.named_parameters():
        if any(fnmatch(name, pattern) for pattern in frozen):
            param.requires_grad_(False)
    count = sum(p.numel() for p in model.parameters() if p.requires_grad)
    if count == 0:
        raise ConfigError("training: no parameter is left to train (check trainable / freeze_modules / frozen)")
    return count


def total_steps(cfg: TrainingConfig, batches_per_epoch: int) -> int:
    if cfg.max_steps is not None:
        return cfg.max_steps
    return max(1, math.ceil(cfg.num_train_epochs * batches_per_epoch / cfg.gradient_accumulation_steps))


def make_optimizer(model, cfg: TrainingConfig, steps: int):
    from transformers import get_scheduler

    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(
        params,
        lr=cfg.learning_rate,
        betas=(cfg.adam_beta1, cfg.adam_beta2),
        eps=cfg.adam_epsilon,
        weight_decay=cfg.weight_decay,
        fused=cfg.optim == "adamw_torch_fused" or None,
    )
    warmup = cfg.warmup_steps or int(round(cfg.warmup_ratio * steps))
    scheduler = get_scheduler(cfg.lr_scheduler_type, optimizer, num_warmup_steps=warmup, num_training_steps=steps)
    return optimizer, scheduler


class EncoderCache:
    """Frozen encoder outputs kept per sample id (stage 1 encodes each clip once). CPU, float16, bounded."""

    def __init__(self, max_bytes: int) -> None:  # training.encoder_cache_gb
        self.frames: dict[str, tuple[torch.Tensor, int]] = {}
        self.max_bytes, self.bytes = max_bytes, 0

    def lookup(self, model, batch: TrainBatch):
        """(frames, frame_lengths) for the batch, computing and storing the missing ones."""
        if batch.audios is None or batch.windows_per_item is None or bool((batch.windows_per_item != 1).any()):
            return None
        audio_ids = batch.audio_keys  # not the sample ids: the datasets of a mix may reuse them
        if len(audio_ids) != batch.audios.shape[0]:
            return None
        fresh: dict[str, tuple[torch.Tensor, int]] = {}
        missing = [j for j, key in enumerate(audio_ids) if key not in self.frames]
        if missing:
            with torch.no_grad():
                index = torch.tensor(missing, device=batch.audios.device)
                frames, lengths = model.encode_frames(batch.audios[index], batch.audio_lengths[index])
            for j, frame, length in zip(missing, frames, lengths.tolist(), strict=True):
                stored = frame[:length].to("cpu", torch.float16)
                size = stored.numel() * stored.element_size()
                if self.bytes + size <= self.max_bytes:  # kept for later epochs
                    self.frames[audio_ids[j]] = (stored, length)
                    self.bytes += size
                else:  # over budget: used for this step only
                    fresh[audio_ids[j]] = (stored, length)
        rows = [self.frames.get(key) or fresh[key] for key in audio_ids]
        width = max(r[0].shape[0] for r in rows)
        frames = torch.zeros(len(rows), width, rows[0][0].shape[-1], dtype=model.dtype)
        for j, (stored, length) in enumerate(rows):
            frames[j, :length] = stored.to(model.dtype)
        lengths = torch.tensor([r[1] for r in rows])
        return frames.to(batch.audios.device), lengths.to(batch.audios.device)


class TrainClock:
    """The training loop's wall and CPU seconds (this process's), counted across resumes: a checkpoint stores them
    and a resumed run continues from there, so work lost after the last checkpoint is not counted twice."""

    def __init__(self, seconds: float = 0.0, cpu_seconds: float = 0.0, from_step: int = 0) -> None:
        self.before, self.cpu_before = float(seconds), float(cpu_seconds)
        self.from_step = from_step  # > 0: resumed from a checkpoint without a clock; the times count from that step
        self.wall_started, self.cpu_started = time.perf_counter(), time.process_time()

    def start(self) -> None:
        """Count from now (the loop begins; loading the model and data is not training time)."""
        self.wall_started, self.cpu_started = time.perf_counter(), time.process_time()

    def read(self) -> dict[str, float]:
        return {
            "train_seconds": round(self.before + time.perf_counter() - self.wall_started, 2),
            "train_cpu_seconds": round(self.cpu_before + time.process_time() - self.cpu_started, 2),
        }


# ---- the loop -------------------------------------------------------------------------------------------------
def train(cfg: RunConfig, resume: bool = False) -> Path:
    """Train one stage. Returns the directory of the final model (compact format)."""
    from accelerate.utils import set_seed

    from soundwave.data.build import build_eval_data, build_training_data
    from soundwave.model.builder import build_from_spec
    from soundwave.training.metrics_log import MetricsLog
    from soundwave.training.plots import plot_training_curves

    tcfg = cfg.training
    accelerator = make_accelerator(tcfg)
    set_seed(tcfg.seed)
    run_dir = Path(tcfg.output_dir)
    saved = newest_readable_checkpoint(run_dir) if resume else None  # a damaged newest one: the one before
    world = accelerator.num_processes
    if world > 1:
        log.info("data-parallel over %d processes (%s)", world, torch.distributed.get_backend())
    spec = cfg.model.to_spec()
    model, tokenizer, extractor = build_from_spec(spec)
    if tcfg.init_from:
        source = init_from_previous(model, tcfg.init_from, tcfg.init_from_exclude)
        log.info("initialised from %s", source)
    if tcfg.reset_ctc_blank:
        from soundwave.model.builder import reset_ctc_blank
        from soundwave.model.soundwave import SoundwaveForCausalLM

        if not isinstance(model, SoundwaveForCausalLM):
            raise ConfigError("training.reset_ctc_blank: only a Soundwave model has a CTC blank")
        reset_ctc_blank(model)
        log.info("CTC blank row reset to a reachable one")
    trainable = configure_trainable(model, tcfg)
    total = sum(p.numel() for p in model.parameters())
    log.info("training %s of %s parameters (%.2f%%)", f"{trainable:,}", f"{total:,}", 100 * trainable / total)
    if tcfg.gradient_checkpointing:
        model.llm.gradient_checkpointing_enable()
    processor = processor_for(model, tokenizer, extractor)

    # every process draws the same global batches and keeps its rows: the data order depends on the global batch only
    global_batch = tcfg.per_device_train_batch_size * world
    micro_batches_probe = build_training_data(cfg.data, batch_size=global_batch, num_batches=1)
    steps = total_steps(tcfg, micro_batches_probe.batches_per_epoch)
    data = build_training_data(cfg.data, batch_size=global_batch, num_batches=steps * tcfg.gradient_accumulation_steps)
    sampler = RankSlices(data.sampler, accelerator.process_index, world)
    ctc_targets = CtcTargets(processor.tokenizer, tcfg.ctc_vocab_size)
    collator = TrainingCollator(processor, max_tokens=tcfg.max_tokens, ctc_targets=ctc_targets)
    loader = DataLoader(
        data.dataset, batch_sampler=sampler, collate_fn=collator, num_workers=tcfg.dataloader_num_workers
    )
    eval_data = None
    if cfg.data.eval_datasets:
        eval_data = build_eval_data(
            cfg.data,
            batch_size=tcfg.per_device_eval_batch_size,
            rank=accelerator.process_index,
            world_size=accelerator.num_processes,
        )
    optimizer, scheduler = make_optimizer(model, tcfg, steps)
    objective = StageObjective(model, tcfg.loss_weights, tcfg.ctc_negatives)  # the loss: what DDP and autocast wrap
    objective, optimizer, scheduler = accelerator.prepare(objective, optimizer, scheduler)
    core = accelerator.unwrap_model(objective).model
    params = [p for p in core.parameters() if p.requires_grad]

    step, clock = 0, TrainClock()
    if saved is not None:
        step = saved.state["step"]
        if "train_seconds" in saved.state:
            clock = TrainClock(saved.state["train_seconds"], saved.state["train_cpu_seconds"])
        else:  # saved before checkpoints kept the clock: the time of the steps before it is unknown
            clock = TrainClock(from_step=step)
        try:
            sampler.load_state_dict(saved.state["data"])
        except ValueError as err:  # another global batch size: the data would not continue where it stopped
            raise CheckpointError(f"{saved.path}: {err}") from err
    batches = iter(loader)  # creating the iterator draws from torch's RNG: before the RNG state is restored
    if saved is not None:
        apply_checkpoint(saved, core, optimizer, scheduler)
        log.info("resumed from %s at step %d", saved.path, step)
        saved = None
    if accelerator.is_main_process:
        run_dir.mkdir(parents=True, exist_ok=True)
        save_config(cfg, run_dir / "config.yaml")
        for stale in remove_stale_temporaries(run_dir):
            log.info("removed %s, left by an interrupted save", stale)
    metrics = MetricsLog(run_dir, enabled=accelerator.is_main_process, truncate_after=step)
    cache = EncoderCache(int(tcfg.encoder_cache_gb * 1024**3)) if tcfg.cache_encoder_outputs else None

    objective.train()
    bar = tqdm(total=steps, initial=step, desc=tcfg.stage, unit="step", disable=not accelerator.is_local_main_process)
    window = {"loss": 0.0, "samples": 0, "tokens": 0, "micro": 0}
    finite, skipped = True, 0  # whether the losses of this optimizer step's micro-batches are all finite
    started = time.perf_counter()
    clock.start()
    for batch in batches:
        if step >= steps:
            break
        batch = batch.to(accelerator.device)
        if tcfg.spec_augment is not None and batch.audios is not None:
            batch.audios = spec_augment(batch.audios, batch.audio_lengths, tcfg.spec_augment)
        with accelerator.accumulate(objective):
            frames = cache.lookup(core, batch) if cache is not None else None
            if tcfg.frame_augment is not None and frames is not None:
                frames = (frame_augment(frames[0], frames[1], tcfg.frame_augment), frames[1])
            loss, parts = objective(batch, frames)  # parts: means over the global batch (all processes)
            accelerator.backward(loss)
            finite = finite and math.isfinite(parts["loss"])
            grad_norm = None
            if accelerator.sync_gradients and tcfg.max_grad_norm > 0:
                grad_norm = float(accelerator.clip_grad_norm_(params, tcfg.max_grad_norm))
                # with fp16 the grad scaler skips a step whose gradients overflowed; otherwise it is a divergence
                finite = finite and (math.isfinite(grad_norm) or accelerator.scaler is not None)
            if accelerator.sync_gradients and not finite:
                what = ", ".join(f"{k}={v:.4g}" for k, v in parts.items()) + f", grad_norm={grad_norm}"
                if tcfg.on_nonfinite_loss == "stop":
                    raise TrainingError(
                        f"training diverged at step {step + 1}: not finite ({what}); stopped without saving a final "
                        "model. Lower training.learning_rate (or resume from an earlier checkpoint), or set "
                        "training.on_nonfinite_loss=skip to drop such steps"
                    )
                skipped += 1
                log.warning("step %d: not finite (%s): optimizer step skipped (%d so far)", step + 1, what, skipped)
            else:
                optimizer.step()
            scheduler.step()
            optimizer.zero_grad(set_to_none=True)
        window["micro"] += 1
        window["samples"] += len(batch.ids)
        window["tokens"] += batch.num_tokens
        for key, value in parts.items():
            window[key] = window.get(key, 0.0) + value
        if not accelerator.sync_gradients:
            continue
        step += 1
        finite = True
        bar.update(1)
        if step % tcfg.logging_steps == 0 or step == steps:
            elapsed = time.perf_counter() - started
            row = {k: window[k] / window["micro"] for k in parts}
            row.update(
                lr=scheduler.get_last_lr()[0],
                samples_per_s=window["samples"] * world / elapsed,
                grad_norm=grad_norm,
                **clock.read(),
            )
            metrics.log("train", step, row)
            bar.set_postfix(loss=f"{row['loss']:.3f}", lr=f"{row['lr']:.2e}", sps=f"{row['samples_per_s']:.1f}")
            window = {"loss": 0.0, "samples": 0, "tokens": 0, "micro": 0}
            started = time.perf_counter()
        if eval_data is not None and tcfg.eval_steps and step % tcfg.eval_steps == 0:
            metrics.log("valid", step, validate(objective, core, eval_data, collator, tcfg, accelerator))
            objective.train()
        if tcfg.save_steps and step % tcfg.save_steps == 0 and step < steps:
            accelerator.wait_for_everyone()
            if accelerator.is_main_process:
                # batches actually trained (the DataLoader's sampler runs ahead by its prefetch)
                position = {"batches": step * tcfg.gradient_accumulation_steps, "batch_size": global_batch}
                state = {"step": step, "data": position, "stage": tcfg.stage, **clock.read()}
                save_checkpoint(run_dir, step, core, optimizer, scheduler, state, cfg, tcfg.save_total_limit)
        if stop_requested(run_dir, accelerator):
            log.info("found %s: stopping at step %d of %d and saving the model", run_dir / STOP_FILE, step, steps)
            break
    bar.close()
    if eval_data is not None and not (tcfg.eval_steps and step % tcfg.eval_steps == 0):  # not evaluated just now
        metrics.log("valid", step, validate(objective, core, eval_data, collator, tcfg, accelerator))
    poisoned = [n for n, p in core.named_parameters() if p.requires_grad and not bool(torch.isfinite(p).all())]
    if poisoned:
        raise TrainingError(
            f"training: {len(poisoned)} trained tensors are not finite (e.g. {poisoned[:3]}); the final model is not "
            "saved. Lower training.learning_rate"
        )
    accelerator.wait_for_everyone()
    final = run_dir / FINAL_DIR
    if accelerator.is_main_process:
        from soundwave.model.compact import save_compact

        save_compact(core, tokenizer, extractor, final, spec)
        data.skips.save(run_dir / "data_skips.json")
        (run_dir / "summary.json").write_text(
            json.dumps(
                {
                    "steps": step,
                    "processes": world,
                    "trainable_parameters": trainable,
                    "skipped": data.skips.total,  # samples left out while loading
                    "skipped_steps": skipped,  # optimizer steps dropped for a non-finite loss
                    **clock.read(),  # the training loop's time, across resumes
                    **({"train_clock_from_step": clock.from_step} if clock.from_step else {}),
                },
                indent=2,
            )
        )
        metrics.close()
        plot_training_curves(run_dir / METRICS_FILE, run_dir / "training_curves.png")
    return final
