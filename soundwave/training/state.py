"""Training checkpoints: trainable weights, optimizer, scheduler, RNG and data position, written atomically.

    runs/stage1/checkpoint-0000200/{trainable.safetensors, optimizer.pt, scheduler.pt, rng.pt,
                                    trainer_state.json, config.yaml}

A checkpoint directory appears only complete (built under a temporary name, then renamed); the oldest step
checkpoints beyond `keep` are removed after a new one is in place, and the temporary folders interrupted saves
left behind (`.checkpoint-*.tmp-*`) at the next save or start. `--resume` reads the newest checkpoint whose files
all load; a damaged one (a truncated `trainable.safetensors`) is named in a warning and the previous one used.
"""

from __future__ import annotations

import json
import logging
import pickle
import random
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import save_file

from soundwave.atomic import atomic_dir
from soundwave.config.loader import save_config
from soundwave.errors import CheckpointError
from soundwave.model.checkpoint import read_weights

log = logging.getLogger(__name__)
CHECKPOINT_RE = re.compile(r"^checkpoint-(\d+)$")
TRAINABLE_FILE = "trainable.safetensors"
STATE_FILE = "trainer_state.json"


def trainable_state_dict(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {n: p.detach().cpu().contiguous() for n, p in model.named_parameters() if p.requires_grad}


def rng_state() -> dict:
    return {
        "python": random.getstate(),
        "numpy": np.random.get_state(),
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
    }


def set_rng_state(state: dict) -> None:
    random.setstate(state["python"])
    np.random.set_state(state["numpy"])
    torch.set_rng_state(state["torch"])
    if state.get("cuda") and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def checkpoints(run_dir: str | Path) -> list[Path]:
    """Complete step checkpoints of a run, oldest first."""
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        return []
    found = [(int(m.group(1)), p) for p in run_dir.iterdir() if p.is_dir() and (m := CHECKPOINT_RE.match(p.name))]
    return [p for _, p in sorted(found) if (p / STATE_FILE).is_file()]


def save_checkpoint(run_dir, step, model, optimizer, scheduler, trainer_state: dict, config, keep: int) -> Path:
    """Write checkpoint-{step} and drop the oldest beyond `keep`."""
    target = Path(run_dir) / f"checkpoint-{step:07d}"
    remove_stale_temporaries(run_dir)
    with atomic_dir(target) as tmp:
        save_file(trainable_state_dict(model), str(tmp / TRAINABLE_FILE))
        torch.save(optimizer.state_dict(), tmp / "optimizer.pt")
        torch.save(scheduler.state_dict(), tmp / "scheduler.pt")
        torch.save(rng_state(), tmp / "rng.pt")
        save_config(config, tmp / "config.yaml")
        (tmp / STATE_FILE).write_text(json.dumps(trainer_state, indent=2))
    for old in checkpoints(run_dir)[:-keep] if keep > 0 else []:
        shutil.rmtree(old, ignore_errors=True)
    return target


def remove_stale_temporaries(run_dir: str | Path) -> list[Path]:
    """Remove the folders interrupted saves left (`.checkpoint-*.tmp-*`, `.checkpoint-*.old-*`); returns them.

    Only the run's main process saves, and it calls this before it starts a save, so none of them is in use.
    """
    run_dir = Path(run_dir)
    stale = [*run_dir.glob(".checkpoint-*.tmp-*"), *run_dir.glob(".checkpoint-*.old-*")] if run_dir.is_dir() else []
    for path in stale:
        shutil.rmtree(path, ignore_errors=True)
    return stale


def read_trainer_state(path: str | Path) -> dict:
    """The step and data position a checkpoint was taken at."""
    try:
        return json.loads((Path(path) / STATE_FILE).read_text())
    except (OSError, json.JSONDecodeError) as err:
        raise CheckpointError(f"{path}: unreadable {STATE_FILE} ({err})") from err


@dataclass
class SavedCheckpoint:
    """A checkpoint's contents, read and checked before any of it is applied."""

    path: Path
    weights: dict[str, torch.Tensor]  # the trainable tensors
    state: dict  # trainer_state.json: step, data position, stage
    optimizer: dict
    scheduler: dict
    rng: dict


def read_checkpoint(path: str | Path) -> SavedCheckpoint:
    """Read every file of a checkpoint. Raises CheckpointError naming the file that cannot be read."""
    path = Path(path)
    weights = read_weights(path / TRAINABLE_FILE)
    state = read_trainer_state(path)
    loaded = {}
    for name in ("optimizer", "scheduler", "rng"):
        file = path / f"{name}.pt"
        try:
            loaded[name] = torch.load(file, weights_only=False)
        except (OSError, ValueError, RuntimeError, EOFError, pickle.UnpicklingError) as err:
            raise CheckpointError(f"{file}: cannot be read ({err}); the file may be truncated") from err
    return SavedCheckpoint(path, weights, state, **loaded)


def newest_readable_checkpoint(run_dir: str | Path) -> SavedCheckpoint:
    """The newest checkpoint of a run whose files all read; damaged newer ones are named in a warning.

    Raises:
        CheckpointError: no checkpoint, or none that reads (each one's problem named).
    """
    found = checkpoints(run_dir)
    if not found:
        raise CheckpointError(f"--resume: no checkpoint in {run_dir} to resume from")
    problems = []
    for path in reversed(found):
        try:
            saved = read_checkpoint(path)
        except CheckpointError as err:
            problems.append(str(err))
            continue
        for problem in problems:
            log.warning("--resume: skipping a damaged checkpoint: %s; using %s instead", problem, path.name)
        return saved
    raise CheckpointError(f"--resume: no checkpoint of {run_dir} can be read: {'; '.join(problems)}")


def apply_checkpoint(saved: SavedCheckpoint, model, optimizer, scheduler) -> dict:
    """Restore a read checkpoint into live objects; returns the trainer state (step, data position, ...)."""
    params = dict(model.named_parameters())
    missing = [n for n, p in params.items() if p.requires_grad and n not in saved.weights]
    if missing:
        raise CheckpointError(f"{saved.path}: trainable tensors missing from the checkpoint: {missing[:5]}")
    with torch.no_grad():
        for name, tensor in saved.weights.items():
            if name not in params:
                raise CheckpointError(f"{saved.path}: {name} is not a parameter of this model (another config?)")
            params[name].copy_(tensor)
    optimizer.load_state_dict(saved.optimizer)
    scheduler.load_state_dict(saved.scheduler)
    set_rng_state(saved.rng)
    return saved.state
