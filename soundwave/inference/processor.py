"""The processor now lives in `soundwave.processor` (training uses it too); its names stay importable here."""

from soundwave.processor import EDGE_SAMPLES, HOP_LENGTH, AudioBatch, SpeechProcessor, processor_for, split_windows

__all__ = ["EDGE_SAMPLES", "HOP_LENGTH", "AudioBatch", "SpeechProcessor", "processor_for", "split_windows"]
