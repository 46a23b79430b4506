"""Training checkpoints: trainable weights, optimizer, scheduler, RNG and data position, written atomically.

    runs/stage1/checkpoint-0000200/{trainable.safetensors, optimizer.pt, scheduler.pt, rng.pt,
                                    trainer_state.json, config.yaml}

A checkpoint directory appears only complete (built under a temporary name, then renamed); the oldest step
checkpoints beyond `keep` are removed after a new one is in place.
"""

from __future__ import annotations

import json
import random
import re
import shutil
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import load_file, save_file

from soundwave.atomic import atomic_dir
from soundwave.config.loader import save_config
from soundwave.errors import CheckpointError

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


def read_trainer_state(path: str | Path) -> dict:
    """The step and data position a checkpoint was taken at."""
    try:
        return json.loads((Path(path) / STATE_FILE).read_text())
    except (OSError, json.JSONDecodeError) as err:
        raise CheckpointError(f"{path}: unreadable {STATE_FILE} ({err})") from err


def load_checkpoint(path: str | Path, model, optimizer, scheduler) -> dict:
    """Restore a checkpoint into live objects; returns the trainer state (step, data position, ...)."""
    path = Path(path)
    try:
        weights = load_file(str(path / TRAINABLE_FILE))
        state = json.loads((path / STATE_FILE).read_text())
        optimizer_state = torch.load(path / "optimizer.pt", weights_only=False)
        scheduler_state = torch.load(path / "scheduler.pt", weights_only=False)
        rng = torch.load(path / "rng.pt", weights_only=False)
    except (OSError, ValueError, RuntimeError, json.JSONDecodeError) as err:
        raise CheckpointError(f"{path}: cannot resume from this checkpoint ({err})") from err
    params = dict(model.named_parameters())
    missing = [n for n, p in params.items() if p.requires_grad and n not in weights]
    if missing:
        raise CheckpointError(f"{path}: trainable tensors missing from the checkpoint: {missing[:5]}")
    with torch.no_grad():
        for name, tensor in weights.items():
            if name not in params:
                raise CheckpointError(f"{path}: {name} is not a parameter of this model (another config?)")
            params[name].copy_(tensor)
    optimizer.load_state_dict(optimizer_state)
    scheduler.load_state_dict(scheduler_state)
    set_rng_state(rng)
    return state
