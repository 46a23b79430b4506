"""Load and save Soundwave checkpoints in the released format (safetensors, single file or sharded).

Loading checks every tensor before touching the model: missing, unexpected and mis-shaped tensors are all named
in one error. Saving writes to a temporary directory and renames it into place.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch
from safetensors import safe_open
from safetensors.torch import save_file
from torch import Tensor

from soundwave.atomic import atomic_path
from soundwave.errors import CheckpointError
from soundwave.model.released_format import to_ours, to_released

SINGLE_FILE = "model.safetensors"
INDEX_FILE = "model.safetensors.index.json"
MAX_SHARD_BYTES = 5 * 1024**3


def weight_files(directory: str | Path) -> list[Path]:
    """The safetensors files of a checkpoint directory (one file, or the shards an index names)."""
    directory = Path(directory)
    if (directory / INDEX_FILE).is_file():
        try:
            index = json.loads((directory / INDEX_FILE).read_text())
            names = sorted(set(index["weight_map"].values()))
        except (json.JSONDecodeError, KeyError) as err:
            raise CheckpointError(f"{directory / INDEX_FILE}: not a valid safetensors index ({err})") from err
        files = [directory / name for name in names]
        missing = [str(f) for f in files if not f.is_file()]
        if missing:
            raise CheckpointError(f"{directory}: shards named in {INDEX_FILE} are missing: {missing}")
        return files
    if (directory / SINGLE_FILE).is_file():
        return [directory / SINGLE_FILE]
    raise CheckpointError(f"{directory}: no {SINGLE_FILE} or {INDEX_FILE} (is this a Soundwave checkpoint?)")


def read_released_state_dict(directory: str | Path) -> dict[str, Tensor]:
    """All tensors of a released-format checkpoint, under their released names."""
    tensors: dict[str, Tensor] = {}
    for file in weight_files(directory):
        try:
            with safe_open(str(file), framework="pt") as handle:
                for key in handle.keys():
                    tensors[key] = handle.get_tensor(key)
        except Exception as err:  # safetensors raises SafetensorError / OSError on a truncated file
            raise CheckpointError(f"{file}: cannot read weights ({err}); the file may be truncated") from err
    return tensors


def check_state_dict(model: torch.nn.Module, state_dict: dict[str, Tensor], source: str) -> None:
    """Raise one CheckpointError naming every missing, unexpected or mis-shaped tensor."""
    expected = {k: v.shape for k, v in model.state_dict().items()}
    tied = tied_keys(model)
    missing = sorted(k for k in expected if k not in state_dict and k not in tied)
    unexpected = sorted(k for k in state_dict if k not in expected)
    mismatched = sorted(
        f"{to_released(k)}: checkpoint {tuple(state_dict[k].shape)} != model {tuple(expected[k])}"
        for k in state_dict
        if k in expected and state_dict[k].shape != expected[k]
    )
    problems = []
    if missing:
        problems.append(f"missing tensors: {[to_released(k) for k in missing]}")
    if unexpected:
        problems.append(f"unexpected tensors: {[to_released(k) if k.startswith('llm.') else k for k in unexpected]}")
    if mismatched:
        problems.append(f"mis-shaped tensors: {mismatched}")
    if problems:
        raise CheckpointError(f"{source}: " + "; ".join(problems))


def tied_keys(model: torch.nn.Module) -> set[str]:
    """State-dict keys that share storage with an earlier key (e.g. a tied lm_head)."""
    seen: dict[int, str] = {}
    tied = set()
    for name, tensor in model.state_dict(keep_vars=True).items():
        ptr = tensor.data_ptr() if tensor.device.type != "meta" else id(tensor)
        if ptr in seen and tensor.numel():
            tied.add(name)
        else:
            seen[ptr] = name
    return tied


def load_released_weights(model: torch.nn.Module, directory: str | Path) -> None:
    """Load released-format weights into `model` (our module names), strictly."""
    released = read_released_state_dict(directory)
    ours = {to_ours(k): v for k, v in released.items()}
    check_state_dict(model, ours, str(directory))
    model.load_state_dict(ours, strict=False)


def save_released_weights(model: torch.nn.Module, directory: str | Path) -> list[str]:
    """Write the model's tensors under released names; shards + index above MAX_SHARD_BYTES. Returns file names."""
    directory = Path(directory)
    tied = tied_keys(model)
    state = {to_released(k): v.detach().contiguous() for k, v in model.state_dict().items() if k not in tied}
    shards: list[dict[str, Tensor]] = [{}]
    size = 0
    for key, tensor in state.items():
        nbytes = tensor.numel() * tensor.element_size()
        if shards[-1] and size + nbytes > MAX_SHARD_BYTES:
            shards.append({})
            size = 0
        shards[-1][key] = tensor
        size += nbytes
    if len(shards) == 1:
        with atomic_path(directory / SINGLE_FILE) as tmp:
            save_file(shards[0], str(tmp), metadata={"format": "pt"})
        return [SINGLE_FILE]
    names = [f"model-{i + 1:05d}-of-{len(shards):05d}.safetensors" for i in range(len(shards))]
    weight_map = {}
    for name, shard in zip(names, shards, strict=True):
        with atomic_path(directory / name) as tmp:
            save_file(shard, str(tmp), metadata={"format": "pt"})
        weight_map.update(dict.fromkeys(shard, name))
    total = sum(t.numel() * t.element_size() for t in state.values())
    index = {"metadata": {"total_size": total}, "weight_map": weight_map}
    with atomic_path(directory / INDEX_FILE) as tmp:
        tmp.write_text(json.dumps(index, indent=2))
    return names + [INDEX_FILE]
