"""Turn (audio, prompt) items into model inputs: feature windows, left-padded prompt ids. Shared by training and
inference (neither imports the other), like `soundwave.prompts`.

Audio longer than one encoder window (30 s for Whisper) is split into windows; each window is encoded and shrunk
and the shrunk vectors of an item are joined in order (`windows_per_item`), so a long recording becomes a few
thousand LLM vectors rather than a cut at 30 s as in the release.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from soundwave.audio import SAMPLE_RATE
from soundwave.prompts import AUDIO_PATCH, Turn, chat_template_ids, check_text, release_chat_ids

HOP_LENGTH = 160  # Whisper: 10 ms per mel frame at 16 kHz
EDGE_SAMPLES = 400  # Whisper's n_fft: zeros past a clip that make its last STFT frames those of a full window


@dataclass(frozen=True)
class AudioBatch:
    audios: Tensor  # (W, n_mels, F) log-mel windows (or (W, N) waveforms for raw-audio encoders)
    audio_lengths: Tensor  # (W,) valid frames (mel) or samples (waveform) per window
    windows_per_item: Tensor  # (B,) windows of each item


def split_windows(waveform: np.ndarray, window: int, overlap: int = 0) -> list[np.ndarray]:
    """Cut (n,) samples into windows of at most `window` samples, consecutive windows sharing `overlap`."""
    if waveform.shape[0] <= window:
        return [waveform]
    hop = window - overlap
    count = 1 + math.ceil((waveform.shape[0] - window) / hop)
    return [waveform[i * hop : i * hop + window] for i in range(count)]


class SpeechProcessor:
    """Features + prompts for one model.

    Args:
        tokenizer: the LLM's tokenizer (holding the audio placeholder token).
        feature_extractor: a Whisper feature extractor (`input_kind="mel"`) or a wav2vec2-style one ("waveform").
        prompt_format: "release" (the release's hand-built Llama-3 prompt) or "chat_template".
        system_prompt: system message (None: the release's).
        placeholder: the audio placeholder token string.
        input_kind: "mel" or "waveform".
        window_seconds: audio per encoder window.
        overlap_seconds: audio shared by consecutive windows of a long recording.
        pad_to_window: mel features of the whole window (30 s) for every clip, as the release computes them; False
            (paper-mode models, which encode only the valid frames): features up to the batch's longest clip, the
            same values on every valid frame at a fraction of the cost (a 4 s clip: 400 frames, not 3,000).
    """

    def __init__(
        self,
        tokenizer,
        feature_extractor,
        prompt_format: str = "release",
        system_prompt: str | None = None,
        placeholder: str = AUDIO_PATCH,
        input_kind: str = "mel",
        window_seconds: float = 30.0,
        overlap_seconds: float = 0.0,
        pad_to_window: bool = True,
    ) -> None:
        self.pad_to_window = pad_to_window
        self.tokenizer = tokenizer
        self.feature_extractor = feature_extractor
        self.prompt_format = prompt_format
        self.system_prompt = system_prompt
        self.placeholder = placeholder
        self.input_kind = input_kind
        self.window = int(window_seconds * SAMPLE_RATE)
        self.overlap = int(overlap_seconds * SAMPLE_RATE)
        if not 0 <= self.overlap < self.window:
            raise ValueError(f"overlap_seconds must be in [0, {window_seconds}), got {overlap_seconds}")

    @property
    def pad_id(self) -> int:
        pad = self.tokenizer.pad_token_id
        return pad if pad is not None else self.tokenizer.eos_token_id

    # ---- audio --------------------------------------------------------------------------------------------------
    def audio_batch(self, waveforms: Sequence[np.ndarray]) -> AudioBatch:
        """16 kHz mono waveforms -> feature windows for the encoder."""
        windows, counts = [], []
        for waveform in waveforms:
            parts = split_windows(waveform, self.window, self.overlap)
            windows += parts
            counts.append(len(parts))
        if self.input_kind == "mel" and self.pad_to_window:
            feats = self.feature_extractor(windows, sampling_rate=SAMPLE_RATE, return_tensors="pt").input_features
            n_frames = feats.shape[-1]
            lengths = [min(n_frames, math.ceil(w.shape[0] / HOP_LENGTH)) for w in windows]
        elif self.input_kind == "mel":
            feats, lengths = self._mel_to_longest(windows)
        else:
            longest = max(w.shape[0] for w in windows)
            feats = self.feature_extractor(
                windows,
                sampling_rate=SAMPLE_RATE,
                return_tensors="pt",
                padding="max_length",
                max_length=longest,
            ).input_values
            lengths = [w.shape[0] for w in windows]
        return AudioBatch(feats, torch.tensor(lengths), torch.tensor(counts))

    def _mel_to_longest(self, windows: list[np.ndarray]) -> tuple[Tensor, list[int]]:
        """Log-mel of each window up to the longest one's frames: (W, n_mels, F') and valid frames per window."""
        full = self.window // HOP_LENGTH  # mel frames of a whole window
        lengths = [min(full, math.ceil(w.shape[0] / HOP_LENGTH)) for w in windows]
        longest = min(max(w.shape[0] for w in windows) + EDGE_SAMPLES, self.window)  # a full window: no zeros
        padded = [np.pad(w, (0, longest - w.shape[0])) for w in windows]
        feats = self.feature_extractor(
            padded, sampling_rate=SAMPLE_RATE, return_tensors="pt", padding="longest", truncation=False
        ).input_features
        return feats[..., : max(lengths)], lengths

    # ---- text ---------------------------------------------------------------------------------------------------
    def prompt_ids(self, turns: Sequence[Turn], generation: bool = True) -> list[int]:
        """Token ids of a conversation; exactly one turn should carry the audio.

        Raises:
            TextError: a turn's text is not valid Unicode (cannot be tokenized), or holds the audio placeholder.
        """
        for number, turn in enumerate(turns):
            where = "the prompt" if number == len(turns) - 1 else f"turn {number} ({turn.role})"
            check_text(turn.text, where, self.placeholder)
        if self.prompt_format == "release":
            return release_chat_ids(self.tokenizer, turns, system=self.system_prompt, generation=generation)
        return chat_template_ids(
            self.tokenizer,
            turns,
            system=self.system_prompt,
            generation=generation,
            placeholder=self.placeholder,
        )

    def pad_left(self, rows: Sequence[Sequence[int]]) -> tuple[Tensor, Tensor]:
        """Left-pad id rows -> input_ids (B, S), attention_mask (B, S)."""
        width = max(len(r) for r in rows)
        ids = torch.full((len(rows), width), self.pad_id, dtype=torch.long)
        mask = torch.zeros((len(rows), width), dtype=torch.long)
        for i, row in enumerate(rows):
            if row:
                ids[i, width - len(row) :] = torch.tensor(row)
                mask[i, width - len(row) :] = 1
        return ids, mask

    def __call__(
        self,
        waveforms: Sequence[np.ndarray],
        conversations: Sequence[Sequence[Turn]],
        audios_per_row: Sequence[int] | None = None,
    ) -> dict[str, Tensor]:
        """A generation batch: the model's `generate(**batch)` keyword arguments.

        Args:
            waveforms: 16 kHz audio, row by row (one per conversation unless `audios_per_row` says otherwise).
            conversations: the turns of each row; a turn with `audio=True` takes the row's next waveform.
            audios_per_row: audio count of each row (None: exactly one each).
        """
        input_ids, attention_mask = self.pad_left([self.prompt_ids(turns) for turns in conversations])
        batch = {"input_ids": input_ids, "attention_mask": attention_mask}
        if waveforms:
            audio = self.audio_batch(waveforms)
            batch.update(
                audios=audio.audios, audio_lengths=audio.audio_lengths, windows_per_item=audio.windows_per_item
            )
        else:
            batch["audios"] = None
        if audios_per_row is not None:
            batch["audios_per_row"] = torch.tensor(list(audios_per_row), dtype=torch.long)
        return batch


def processor_for(model, tokenizer, feature_extractor) -> SpeechProcessor:
    """The processor a model needs, from what its config says about prompts and audio input."""
    config = model.config
    return SpeechProcessor(
        tokenizer,
        feature_extractor,
        prompt_format=getattr(config, "prompt_format", "chat_template"),
        system_prompt=getattr(config, "system_prompt", None),
        placeholder=getattr(model, "placeholder_token", None) or "<audio_patch>",
        input_kind=getattr(model, "input_kind", "mel"),
        window_seconds=float(
            getattr(feature_extractor, "chunk_length", None) or getattr(config, "window_seconds", 30.0)
        ),
        pad_to_window=getattr(model, "pads_to_window", True),
    )
