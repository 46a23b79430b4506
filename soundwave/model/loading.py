"""Load and save Soundwave checkpoints in the released format, and the feature extractor that goes with one.

    model = load_soundwave("path/to/checkpoint", mode="paper")   # = SoundwaveForCausalLM.from_pretrained(...)
    save_soundwave(model, "out/")

The on-disk work (directory, config.json, weights) is `soundwave.model.checkpoint`'s; this module only names the
class to build, so the model module never imports a loader.
"""

from __future__ import annotations

from pathlib import Path

import torch
from transformers import WhisperFeatureExtractor

from soundwave.model.checkpoint import (
    CONFIG_FILE,
    load_released,
    local_audio_tower,
    resolve_checkpoint_dir,
    save_soundwave,
)
from soundwave.model.soundwave import SoundwaveForCausalLM

__all__ = [
    "CONFIG_FILE",
    "PREPROCESSOR_FILE",
    "load_feature_extractor",
    "load_soundwave",
    "resolve_checkpoint_dir",
    "save_soundwave",
]

PREPROCESSOR_FILE = "preprocessor_config.json"


def load_soundwave(
    name_or_path: str | Path,
    dtype: torch.dtype | str | None = None,
    device: str | torch.device | None = None,
    **config_overrides,
) -> SoundwaveForCausalLM:
    """Load a released-format Soundwave checkpoint (see `checkpoint.load_released`).

    Args:
        name_or_path: checkpoint directory (or hub id).
        dtype: parameter dtype (default: float32).
        device: where to put the model (default: CPU).
        config_overrides: SoundwaveConfig fields to override, e.g. `mode="paper"`, `mask_eot_keys=False`.

    Raises:
        CheckpointError: missing files, or tensors missing / unexpected / of the wrong shape (all named).
    """
    return load_released(SoundwaveForCausalLM, name_or_path, dtype=dtype, device=device, **config_overrides)


def load_feature_extractor(directory: str | Path, n_mels: int, audio_tower: str | None = None):
    """The checkpoint's Whisper feature extractor, else the audio tower's, else Whisper's defaults for n_mels."""
    directory = Path(directory)
    for candidate in (directory, local_audio_tower(directory, audio_tower)):
        if candidate is not None and (candidate / PREPROCESSOR_FILE).is_file():
            return WhisperFeatureExtractor.from_pretrained(candidate)
    return WhisperFeatureExtractor(feature_size=n_mels)
