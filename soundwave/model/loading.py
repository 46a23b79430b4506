"""Resolve, load and save Soundwave checkpoints: a local directory, or a hub id where a network exists.

Nothing here needs the network for a local checkpoint: the Whisper geometry comes from a local `audio_tower`
config when there is one, else from the weights themselves (the release names a hub id there).
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import torch
from transformers import WhisperConfig, WhisperFeatureExtractor
from transformers.initialization import no_init_weights

from soundwave.atomic import atomic_dir
from soundwave.errors import CheckpointError, ModelNotFoundError
from soundwave.model.audio_encoder import whisper_config_from_weights
from soundwave.model.checkpoint import (
    load_released_weights,
    read_released_state_dict,
    save_released_weights,
)
from soundwave.model.configuration import SoundwaveConfig
from soundwave.model.released_format import AUDIO_TOWER_PREFIX

log = logging.getLogger(__name__)

CONFIG_FILE = "config.json"
PREPROCESSOR_FILE = "preprocessor_config.json"


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
    if config.audio_config is not None:
        return config.audio_config
    tower = local_audio_tower(directory, config.audio_tower)
    if tower is not None:
        return WhisperConfig.from_pretrained(tower)
    if f"{AUDIO_TOWER_PREFIX}conv1.weight" not in state_dict:
        raise CheckpointError(f"{directory}: no audio tower weights ({AUDIO_TOWER_PREFIX}*) and no audio config")
    log.info("audio_tower %r is not local: Whisper geometry derived from the weights", config.audio_tower)
    return whisper_config_from_weights(state_dict, AUDIO_TOWER_PREFIX)


def load_feature_extractor(directory: str | Path, n_mels: int, audio_tower: str | None = None):
    """The checkpoint's Whisper feature extractor, else the audio tower's, else Whisper's defaults for n_mels."""
    directory = Path(directory)
    for candidate in (directory, local_audio_tower(directory, audio_tower)):
        if candidate is not None and (candidate / PREPROCESSOR_FILE).is_file():
            return WhisperFeatureExtractor.from_pretrained(candidate)
    return WhisperFeatureExtractor(feature_size=n_mels)


def load_soundwave(
    name_or_path: str | Path,
    dtype: torch.dtype | str | None = None,
    device: str | torch.device | None = None,
    **config_overrides,
):
    """Load a released-format Soundwave checkpoint.

    Args:
        name_or_path: checkpoint directory (or hub id).
        dtype: parameter dtype (default: float32).
        device: where to put the model (default: CPU).
        config_overrides: SoundwaveConfig fields to override, e.g. `mode="paper"`, `mask_eot_keys=False`.

    Raises:
        CheckpointError: missing files, or tensors missing / unexpected / of the wrong shape (all named).
    """
    from soundwave.model.soundwave import SoundwaveForCausalLM

    directory = resolve_checkpoint_dir(name_or_path)
    if not (directory / CONFIG_FILE).is_file():
        raise CheckpointError(f"{directory}: no {CONFIG_FILE}")
    try:
        raw = json.loads((directory / CONFIG_FILE).read_text())
    except json.JSONDecodeError as err:
        raise CheckpointError(f"{directory / CONFIG_FILE}: not valid JSON ({err})") from err
    raw.update(config_overrides)
    config = SoundwaveConfig.from_dict(raw)
    released = read_released_state_dict(directory)
    config.audio_config = resolve_audio_config(config, directory, released)
    config.adapter_size = config.audio_config.d_model
    dtype = getattr(torch, dtype) if isinstance(dtype, str) else (dtype or torch.float32)
    previous = torch.get_default_dtype()
    torch.set_default_dtype(dtype)
    try:
        with no_init_weights():
            model = SoundwaveForCausalLM(config)
        model.tie_weights()  # a tied LM head (SmolLM2) has no tensor of its own in the checkpoint
    finally:
        torch.set_default_dtype(previous)
    load_released_weights(model, directory)
    del released
    model.name_or_path = str(directory)
    model.config._name_or_path = str(directory)
    return model.to(device or "cpu").eval()


def save_soundwave(model, directory: str | Path, feature_extractor=None) -> Path:
    """Write `model` in the released format (config.json + safetensors), atomically."""
    directory = Path(directory)
    with atomic_dir(directory) as tmp:
        model.config.save_pretrained(tmp)
        save_released_weights(model, tmp)
        if feature_extractor is not None:
            feature_extractor.save_pretrained(tmp)
    return directory
