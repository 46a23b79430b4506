"""Soundwave: speech-text LLMs (Soundwave's CTC alignment + shrinking adapters, and SpeechLLM)."""

__version__ = "0.1.0"
