"""Model code: tensors in, tensors out. No tokenizer, no files, except the checkpoint loaders."""

from transformers import AutoConfig, AutoModelForCausalLM

from soundwave.model.configuration import SoundwaveConfig
from soundwave.model.soundwave import SoundwaveForCausalLM

AutoConfig.register(SoundwaveConfig.model_type, SoundwaveConfig, exist_ok=True)
AutoModelForCausalLM.register(SoundwaveConfig, SoundwaveForCausalLM, exist_ok=True)

__all__ = ["SoundwaveConfig", "SoundwaveForCausalLM"]

# SpeechLLM (seed 003): any speech encoder -> stack k -> MLP projector -> any causal LM
from soundwave.model.speechllm import SpeechLLM, SpeechLLMConfig  # noqa: E402

AutoConfig.register(SpeechLLMConfig.model_type, SpeechLLMConfig, exist_ok=True)
AutoModelForCausalLM.register(SpeechLLMConfig, SpeechLLM, exist_ok=True)
__all__ += ["SpeechLLM", "SpeechLLMConfig"]
