"""Soundwave: speech-text LLMs (Soundwave's CTC alignment + shrinking adapters, and SpeechLLM).

Importing the package registers the `Soundwave` model type with transformers' Auto classes, so
`AutoModelForCausalLM.from_pretrained(DIR)` loads released checkpoints.
"""

from soundwave.inference.release_api import inference, load_model
from soundwave.model import SoundwaveConfig, SoundwaveForCausalLM

__version__ = "0.1.0"

__all__ = ["SoundwaveConfig", "SoundwaveForCausalLM", "inference", "load_model"]
