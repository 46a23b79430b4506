"""Soundwave checkpoints in the released format, on disk: the directory, its config.json and its safetensors.

Loading checks every tensor before touching the model: missing, unexpected and mis-shaped tensors are all named
in one error. Saving writes to a temporary directory and renames it into place. Nothing here needs the network
for a local checkpoint: the Whisper geometry comes from a local `audio_tower` config when there is one, else from
the weights themselves (the release names a hub id there). The model class is an argument (`load_released`), so
this module does not import it: `SoundwaveForCausalLM.from_pretrained` calls it.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import torch
from safetensors import safe_open
from safetensors.torch import save_file
from torch import Tensor
from transformers import WhisperConfig
from transformers.initialization import no_init_weights

from soundwave.atomic import atomic_dir, atomic_path
from soundwave.errors import CheckpointError, ModelNotFoundError
from soundwave.model.audio_encoder import whisper_config_from_weights
from soundwave.model.configuration import SoundwaveConfig
from soundwave.model.released_format import AUDIO_TOWER_PREFIX, to_ours, to_released

log = logging.getLogger(__name__)

CONFIG_FILE = "config.json"

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


def read_weights(file: str | Path) -> dict[str, Tensor]:
    """All tensors of one safetensors file (on the CPU).

    Raises:
        CheckpointError: naming the file, when it is missing or damaged (e.g. truncated by an interrupted copy).
    """
    try:
        with safe_open(str(file), framework="pt") as handle:
            return {key: handle.get_tensor(key) for key in handle.keys()}
    except Exception as err:  # safetensors raises SafetensorError / OSError on a truncated file
        raise CheckpointError(f"{file}: cannot read weights ({err}); the file may be truncated") from err


def read_released_state_dict(directory: str | Path) -> dict[str, Tensor]:
    """All tensors of a released-format checkpoint, under their released names."""
    tensors: dict[str, Tensor] = {}
    for file in weight_files(directory):
        tensors.update(read_weights(file))
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


# ---- the directory and its config ------------------------------------------------------------------------------
def resolve_checkpoint_dir(name_or_path: str | Path) -> Path:
    """A local checkpoint directory, or a hub id downloaded by huggingface_hub (users with a network)."""
    path = Path(name_or_path).expanduser()
    if path.is_dir():
        return path
    if path.exists():
        raise ModelNotFoundError(f"{path} is a file; a Soundwave checkpoint is a directory")
    try:
        from huggingface_hub import snapshot_download

        return Path(snapshot_download(str(name_or_path)))
    except Exception as err:  # offline, unknown repo, auth...
        raise ModelNotFoundError(
            f"{name_or_path}: not a local directory, and it could not be fetched from the hub ({type(err).__name__})"
        ) from err


def local_audio_tower(directory: Path, audio_tower: str | None) -> Path | None:
    """The `audio_tower` config directory if it exists locally (relative to the checkpoint or absolute)."""
    if not audio_tower:
        return None
    for candidate in (directory / audio_tower, Path(audio_tower).expanduser()):
        if (candidate / CONFIG_FILE).is_file():
            return candidate
    return None


def resolve_audio_config(config: SoundwaveConfig, directory: Path, state_dict: dict) -> WhisperConfig:
    """The Whisper config: the config's own, a local `audio_tower`'s, else derived from the weights."""
    if config.audio_config is not None:
        return config.audio_config
    tower = local_audio_tower(directory, config.audio_tower)
    if tower is not None:
        return WhisperConfig.from_pretrained(tower)
    if f"{AUDIO_TOWER_PREFIX}conv1.weight" not in state_dict:
        raise CheckpointError(f"{directory}: no audio tower weights ({AUDIO_TOWER_PREFIX}*) and no audio config")
    log.info("audio_tower %r is not local: Whisper geometry derived from the weights", config.audio_tower)
    return whisper_config_from_weights(state_dict, AUDIO_TOWER_PREFIX)


def read_released_config(directory: Path, overrides: dict) -> SoundwaveConfig:
    """config.json with `overrides` (SoundwaveConfig fields) applied, and its Whisper geometry resolved."""
    if not (directory / CONFIG_FILE).is_file():
        raise CheckpointError(f"{directory}: no {CONFIG_FILE}")
    try:
        raw = json.loads((directory / CONFIG_FILE).read_text())
    except json.JSONDecodeError as err:
        raise CheckpointError(f"{directory / CONFIG_FILE}: not valid JSON ({err})") from err
    config = SoundwaveConfig.from_dict({**raw, **overrides})
    config.audio_config = resolve_audio_config(config, directory, read_released_state_dict(directory))
    config.adapter_size = config.audio_config.d_model
    return config


# ---- whole models --------------------------------------------------------------------------------------------
def load_released(
    model_class: type,
    name_or_path: str | Path,
    dtype: torch.dtype | str | None = None,
    device: str | torch.device | None = None,
    **config_overrides,
):
    """Build `model_class` (SoundwaveForCausalLM) from a released-format checkpoint and load its weights.

    Args:
        model_class: the class to build from the SoundwaveConfig.
        name_or_path: checkpoint directory (or hub id).
        dtype: parameter dtype (default: float32).
        device: where to put the model (default: CPU).
        config_overrides: SoundwaveConfig fields to override, e.g. `mode="paper"`, `mask_eot_keys=False`.

    Raises:
        CheckpointError: missing files, or tensors missing / unexpected / of the wrong shape (all named).
    """
    directory = resolve_checkpoint_dir(name_or_path)
    config = read_released_config(directory, config_overrides)
    dtype = getattr(torch, dtype) if isinstance(dtype, str) else (dtype or torch.float32)
    previous = torch.get_default_dtype()
    torch.set_default_dtype(dtype)
    try:
        with no_init_weights():
            model = model_class(config)
        model.tie_weights()  # a tied LM head (SmolLM2) has no tensor of its own in the checkpoint
    finally:
        torch.set_default_dtype(previous)
    load_released_weights(model, directory)
    model.name_or_path = str(directory)
    model.config._name_or_path = str(directory)
    return model.to(device or "cpu").eval()


def save_soundwave(model: torch.nn.Module, directory: str | Path, feature_extractor=None) -> Path:
    """Write `model` in the released format (config.json + safetensors), atomically."""
    directory = Path(directory)
    with atomic_dir(directory) as tmp:
        model.config.save_pretrained(tmp)
        save_released_weights(model, tmp)
        if feature_extractor is not None:
            feature_extractor.save_pretrained(tmp)
    return directory
