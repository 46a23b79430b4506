"""Examples -> a training batch: right-padded prompt + answer ids, labels on the answer only, CTC targets, audio.

The answer's tokens are whatever the prompt format renders after the prompt, so any chat template works; for
the release's format this includes the answer's leading BOS as a supervised label, as the release trains it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import torch
from torch import Tensor

from soundwave.data.dataset import Example
from soundwave.model.spelling import spell
from soundwave.model.splice import IGNORE_INDEX
from soundwave.processor import SpeechProcessor
from soundwave.prompts import Turn
from soundwave.training.ctc_targets import CtcTargets


@dataclass
class TrainBatch:
    input_ids: Tensor  # (B, S) right-padded
    attention_mask: Tensor  # (B, S)
    labels: Tensor  # (B, S) IGNORE_INDEX except on the answer
    audios_per_row: Tensor  # (B,) 0 for text-only rows, else 1
    audios: Tensor | None  # (W, n_mels, F) windows of the rows with audio
    audio_lengths: Tensor | None  # (W,)
    windows_per_item: Tensor | None  # (N,) windows per audio
    asr_targets: Tensor | None  # (N, T) transcript ids per audio, IGNORE_INDEX-padded
    has_transcript: Tensor | None  # (N,) bool: the audio has a transcript and fits one window (CTC applies)
    spelling_targets: Tensor | None = None  # (N, C) spelling CTC labels per audio (`spell`), IGNORE_INDEX-padded
    ids: list[str] = field(default_factory=list)  # sample ids, for logs (two datasets may share an id)
    audio_keys: list[str] = field(default_factory=list)  # per audio: its file and sample id, for the encoder cache
    transcripts: list[str | None] = field(default_factory=list)  # per audio, for validation WER

    def to(self, device) -> TrainBatch:
        moved = {k: (v.to(device) if isinstance(v, Tensor) else v) for k, v in self.__dict__.items()}
        return TrainBatch(**moved)

    @property
    def num_tokens(self) -> int:
        return int((self.labels != IGNORE_INDEX).sum())


def conversation_ids(processor: SpeechProcessor, prompt: str, answer: str, audio: bool) -> tuple[list[int], list[int]]:
    """(ids, labels) of one exchange: prompt tokens get IGNORE_INDEX, the answer (and its end token) are labels."""
    turns = [Turn("user", prompt, audio=audio)]
    prompt_ids = processor.prompt_ids(turns, generation=True)
    full = processor.prompt_ids([*turns, Turn("assistant", answer)], generation=False)
    if full[: len(prompt_ids)] != prompt_ids:  # a template that renders the last turn differently
        eos = processor.tokenizer.eos_token_id
        full = prompt_ids + list(processor.tokenizer(answer, add_special_tokens=False).input_ids) + [eos]
    return full, [IGNORE_INDEX] * len(prompt_ids) + full[len(prompt_ids) :]


class TrainingCollator:
    """Turns a list of `Example`s into a `TrainBatch` for one model's prompt format and feature extractor.

    Args:
        processor: the model's SpeechProcessor (prompt format, tokenizer, feature extractor, window).
        max_tokens: truncate longer rows (None: no limit).
        ctc_targets: transcript -> CTC target ids (default: the LLM's tokens without BOS, spec 3.8).
    """

    def __init__(
        self, processor: SpeechProcessor, max_tokens: int | None = None, ctc_targets: CtcTargets | None = None
    ) -> None:
        self.processor = processor
        self.max_tokens = max_tokens
        self.ctc_targets = ctc_targets or CtcTargets(processor.tokenizer)

    def __call__(self, examples: Sequence[Example]) -> TrainBatch:
        rows, waves, targets, spellings, has_transcript = [], [], [], [], []
        for example in examples:
            sample, audio = example.sample, example.waveform is not None
            ids, labels = conversation_ids(self.processor, sample.prompt, sample.answer, audio)
            if self.max_tokens is not None:
                ids, labels = ids[: self.max_tokens], labels[: self.max_tokens]
            rows.append((ids, labels))
            if audio:
                waves.append(example.waveform)
                text = sample.transcript or ""
                targets.append(self.ctc_targets(text) if text else [])
                spellings.append(spell(text) if text else [])
                has_transcript.append(bool(text) and example.waveform.shape[0] <= self.processor.window)
        input_ids, attention_mask, labels = self._pad(rows)
        batch = TrainBatch(
            input_ids=input_ids,
            attention_mask=attention_mask,
            labels=labels,
            audios_per_row=torch.tensor([int(e.waveform is not None) for e in examples]),
            audios=None,
            audio_lengths=None,
            windows_per_item=None,
            asr_targets=None,
            has_transcript=None,
            ids=[e.sample.id for e in examples],
            audio_keys=[f"{e.sample.audio}#{e.sample.id}" for e in examples if e.waveform is not None],
            transcripts=[e.sample.transcript for e in examples if e.waveform is not None],
        )
        if waves:
            audio = self.processor.audio_batch(waves)
            batch.audios, batch.audio_lengths, batch.windows_per_item = (
                audio.audios,
                audio.audio_lengths,
                audio.windows_per_item,
            )
            batch.asr_targets = padded(targets)
            batch.spelling_targets = padded(spellings)
            batch.has_transcript = torch.tensor(has_transcript)
        return batch

    def _pad(self, rows: list[tuple[list[int], list[int]]]) -> tuple[Tensor, Tensor, Tensor]:
        width = max(len(ids) for ids, _ in rows)
        input_ids = torch.full((len(rows), width), self.processor.pad_id, dtype=torch.long)
        mask = torch.zeros((len(rows), width), dtype=torch.long)
        labels = torch.full((len(rows), width), IGNORE_INDEX, dtype=torch.long)
        for i, (ids, row_labels) in enumerate(rows):
            input_ids[i, : len(ids)] = torch.tensor(ids)
            mask[i, : len(ids)] = 1
            labels[i, : len(ids)] = torch.tensor(row_labels)
        return input_ids, mask, labels


def padded(rows: list[list[int]]) -> Tensor:
    """(N, max length) ids, IGNORE_INDEX-padded (width at least 1)."""
    out = torch.full((len(rows), max(1, max(len(r) for r in rows))), IGNORE_INDEX, dtype=torch.long)
    for i, row in enumerate(rows):
        out[i, : len(row)] = torch.tensor(row, dtype=torch.long)
    return out
