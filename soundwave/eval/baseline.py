"""The plain-Whisper baseline: transformers' Whisper, greedy and batched, behind the `generate_batch`
contract.

It answers "how much does the LLM add over the encoder it is built on": the same manifest, metrics and report
as a Soundwave pipeline. Prompts are ignored (Whisper only transcribes). Clips up to 30 s are decoded in one
window; a batch holding a longer clip goes through transformers' sequential long-form decoding.

`align` gives Whisper's own word timestamps (`soundwave eval --task align --baseline whisper`): transformers'
cross-attention alignment (dynamic time warping over the alignment heads' attention, `return_timestamps="word"`)
of the words Whisper itself transcribes.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from soundwave.alignment.result import Alignment, Word
from soundwave.alignment.segments import aligned
from soundwave.audio import SAMPLE_RATE, load_audio
from soundwave.errors import ConfigError, ModelNotFoundError, SoundwaveError

WINDOW_SECONDS = 30.0  # Whisper's fixed input window
# generation keys the baseline understands; they must mean greedy decoding
_GREEDY_VALUES = {"do_sample": (False,), "num_beams": (1,), "temperature": (0, 0.0, None)}


@dataclass(frozen=True)
class BaselineResult:
    """One item's output (the fields `soundwave.eval.interface.GenerationResult` asks for)."""

    text: str
    error: str | None = None
    input_tokens: int = 0  # encoder frames the decoder attended to (1500 per 30 s window)
    output_tokens: int = 0  # generated text tokens, special tokens excluded
    seconds: float = 0.0  # the batch's compute time shared evenly among its items


def _dtype(name: str | torch.dtype | None) -> torch.dtype | None:
    if name is None or isinstance(name, torch.dtype):
        return name
    try:
        return {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16}[name]
    except KeyError:
        raise ConfigError(f"dtype must be float32, float16 or bfloat16, got {name!r}") from None


class WhisperBaseline:
    """Greedy transformers Whisper with `generate` / `generate_batch` like `soundwave.Pipeline`.

    `align(audio)` times the words of its own transcript (`aligns_own_transcript`: a text given is not forced).

    Example:
        >>> baseline = WhisperBaseline.from_pretrained("runs/whisper-tiny.en")  # doctest: +SKIP
        >>> baseline.generate("clip.wav").text  # doctest: +SKIP
    """

    aligns_own_transcript = True  # `soundwave eval --task align` reports it as timing its own transcript

    def __init__(self, model: Any, processor: Any, name: str, language: str | None = None) -> None:
        """Wrap a loaded `WhisperForConditionalGeneration` and its `WhisperProcessor`.

        Args:
            model: the Whisper model (in eval mode, on its device).
            processor: its processor (feature extractor + tokenizer).
            name: label for reports.
            language: language to force on multilingual models (ignored by English-only ones).
        """
        self.model, self.processor, self.name = model, processor, name
        self.language = language
        self.special_ids = set(processor.tokenizer.all_special_ids)
        # timestamp tokens (<|0.00|> ...) follow <|notimestamps|>; they are not text either
        no_timestamps = getattr(model.generation_config, "no_timestamps_token_id", None)
        self.first_timestamp_id = no_timestamps + 1 if no_timestamps is not None else None
        self._word_pipeline = None  # transformers' ASR pipeline, built on the first `align`

    @classmethod
    def from_pretrained(
        cls,
        path: str | os.PathLike,
        device: str | None = None,
        dtype: str | torch.dtype | None = None,
        language: str | None = None,
        name: str | None = None,
    ) -> WhisperBaseline:
        """Load a transformers Whisper directory (config, weights, processor files).

        Raises:
            ModelNotFoundError: `path` is not a directory holding a Whisper model and processor.
        """
        from transformers import WhisperForConditionalGeneration, WhisperProcessor

        path = Path(path)
        if not (path / "config.json").is_file():
            raise ModelNotFoundError(f"{path}: not a transformers Whisper folder (no config.json)")
        try:
            processor = WhisperProcessor.from_pretrained(path)
            model = WhisperForConditionalGeneration.from_pretrained(path, dtype=_dtype(dtype))
        except (OSError, ValueError) as err:
            raise ModelNotFoundError(f"{path}: cannot load a Whisper model and processor ({err})") from err
        model = model.to(device or "cpu").eval()
        return cls(model, processor, name or path.name, language)

    def generate(self, audio: Any, prompt: str = "", **generation: Any) -> BaselineResult:
        """Transcribe one clip (a path, audio-file bytes, or a 16 kHz float array); `prompt` is ignored."""
        return self.generate_batch([{"audio": audio, "prompt": prompt}], **generation)[0]

    def generate_batch(self, items: list[dict[str, Any]], **generation: Any) -> list[BaselineResult]:
        """Transcribe `items` ({"audio": path | bytes | array, "prompt": ignored}) greedily in one batch.

        Args:
            items: the clips; arrays are taken to be 16 kHz mono.
            generation: `max_new_tokens`, plus `do_sample=False` / `num_beams=1` / `temperature=0`.

        Returns:
            One result per item; an unreadable clip gets an `error` and does not stop the others.

        Raises:
            ConfigError: a generation option other than greedy decoding was asked for.
        """
        max_new_tokens = self._check_generation(generation)
        results: list[BaselineResult | None] = [None] * len(items)
        waveforms: dict[int, np.ndarray] = {}
        for index, item in enumerate(items):
            try:
                waveforms[index] = load_audio(item["audio"], sampling_rate=SAMPLE_RATE)
            except SoundwaveError as err:
                results[index] = BaselineResult(text="", error=str(err))
        if waveforms:
            order = list(waveforms)
            began = time.perf_counter()
            texts, token_counts, frames = self._transcribe([waveforms[i] for i in order], max_new_tokens)
            share = (time.perf_counter() - began) / len(order)
            for i, text, count in zip(order, texts, token_counts, strict=True):
                results[i] = BaselineResult(text, None, frames, count, share)
        return [r for r in results if r is not None]

    def align(self, audio: Any, text: str = "") -> Alignment:
        """Whisper's word timestamps for what it hears in `audio`; `text` is not forced (Whisper aligns its own
        transcript, so a word it mishears or misses is placed as it heard it, or not at all).

        Returns:
            An `Alignment` of Whisper's transcript (word confidences None: Whisper gives none).
        """
        wave = load_audio(audio, sampling_rate=SAMPLE_RATE)
        duration = wave.shape[0] / SAMPLE_RATE
        started = time.perf_counter()
        if self._word_pipeline is None:
            from transformers import pipeline

            self._word_pipeline = pipeline(
                "automatic-speech-recognition",
                model=self.model,
                tokenizer=self.processor.tokenizer,
                feature_extractor=self.processor.feature_extractor,
                device=self.model.device,
            )
        # past 30 s the pipeline hands Whisper the whole recording: its own sequential long-form decoding (the
        # pipeline's chunk_length_s batching is "experimental" for seq2seq models, transformers warns)
        greedy = {"num_beams": 1, "do_sample": False}  # as `generate_batch` decodes
        output = self._word_pipeline(wave.copy(), return_timestamps="word", generate_kwargs=greedy)
        words, offset = [], 0
        for chunk in output.get("chunks", []):
            word = chunk["text"].strip()
            if not word:
                continue
            start, end = chunk["timestamp"]
            start = min(float(start or 0.0), duration)
            end = min(float(end if end is not None else duration), duration)
            words.append(Word(word, start, max(end, start), None, False, offset, offset + len(word)))
            offset += len(word) + 1
        text = " ".join(w.word for w in words)
        return aligned(text, words, duration, time.perf_counter() - started)

    def _check_generation(self, generation: dict[str, Any]) -> int | None:
        for key, value in generation.items():
            if key == "max_new_tokens":
                continue
            if key not in _GREEDY_VALUES:
                raise ConfigError(f"the Whisper baseline does not take generation option {key!r}")
            if value not in _GREEDY_VALUES[key]:
                raise ConfigError(f"the Whisper baseline decodes greedily; got {key}={value!r}")
        return generation.get("max_new_tokens")

    def _is_text_token(self, token: int) -> bool:
        if token in self.special_ids:
            return False
        return self.first_timestamp_id is None or token < self.first_timestamp_id

    @torch.inference_mode()
    def _transcribe(self, waveforms: list[np.ndarray], max_new_tokens: int | None) -> tuple[list[str], list[int], int]:
        long_form = max(w.size for w in waveforms) > WINDOW_SECONDS * SAMPLE_RATE
        # The attention mask marks real frames: long-form decoding needs it, and with it short-form batches
        # skip transformers' "pad token is eos" warning (Whisper's encoder itself ignores the mask).
        extractor_args: dict[str, Any] = {"sampling_rate": SAMPLE_RATE, "return_tensors": "pt"}
        extractor_args["return_attention_mask"] = True
        if long_form:  # keep the whole clip; transformers then decodes it window by window
            extractor_args.update(truncation=False, padding="longest")
        features = self.processor.feature_extractor(waveforms, **extractor_args)
        input_features = features.input_features.to(self.model.device, self.model.dtype)  # (B, mels, frames)
        kwargs: dict[str, Any] = {"do_sample": False, "num_beams": 1}
        kwargs["attention_mask"] = features.attention_mask.to(self.model.device)  # (B, frames)
        if long_form:
            kwargs["return_timestamps"] = True  # sequential long-form decoding moves on by timestamps
        if max_new_tokens is not None:
            kwargs["max_new_tokens"] = max_new_tokens
        if getattr(self.model.generation_config, "is_multilingual", False):
            kwargs.update(task="transcribe", language=self.language or "en")
        output = self.model.generate(input_features, **kwargs)
        sequences = output["sequences"] if isinstance(output, dict) else output  # (B, generated)
        counts = [sum(1 for t in row.tolist() if self._is_text_token(t)) for row in sequences]
        texts = self.processor.tokenizer.batch_decode(sequences, skip_special_tokens=True)
        frames = input_features.shape[-1] // 2  # the encoder's conv stride 2: 3000 mel frames -> 1500
        return [t.strip() for t in texts], counts, frames
