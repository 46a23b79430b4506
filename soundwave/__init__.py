"""Soundwave: speech-text LLMs (Soundwave's CTC alignment + shrinking adapters, and SpeechLLM).

Importing the package registers the `Soundwave` model type with transformers' Auto classes, so
`AutoModelForCausalLM.from_pretrained(DIR)` loads released checkpoints.
"""

from soundwave import inference  # the package, callable as the release's inference(...): see its docstring
from soundwave.inference.pipeline import Pipeline, Result
from soundwave.inference.release_api import load_model
from soundwave.model import SoundwaveConfig, SoundwaveForCausalLM
from soundwave.model.builder import build_model
from soundwave.options import GenerationConfig

__version__ = "0.1.0"

__all__ = [
    "GenerationConfig",
    "Pipeline",
    "Result",
    "SoundwaveConfig",
    "SoundwaveForCausalLM",
    "build_model",
    "inference",
    "load_model",
]
