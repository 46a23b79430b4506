"""The rescoring interface: a decoding add-on scores tokens while the LLM decodes, rewrites texts after, or both.

    context = DecodeContext(model, tokenizer, batch, audio, eos_token_id, cache)
    for rescorer in active_rescorers(config, model):            # soundwave.decoding.RESCORERS, in order
        kwargs["logits_processor"] += rescorer.logits_processors(context, config)
    ... LLM generate ...
    for rescorer in ...: texts, chosen = rescorer.rewrite(context, config, texts, nbest)

`Pipeline` composes them and knows nothing of their internals. Each add-on bounds its own cost (`max_new_tokens`,
candidates per step, repair work per clip) so that no input makes decoding unboundedly slow.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch
from torch import Tensor

from soundwave.errors import SoundwaveError
from soundwave.options import GenerationConfig


@dataclass
class DecodeContext:
    """What an add-on may read about one batch being decoded (its CTC log-probs computed once, on demand).

    Args:
        model: the speech model (a Soundwave model has `align_adapter`, maybe `spelling_head`).
        tokenizer: the LLM's tokenizer.
        batch: the processor's batch (`input_ids`, `attention_mask`, `windows_per_item`, `audios_per_row`, ...).
        audio: the model's `AudioEncoding` of the batch.
        eos_token_id: the token that ends an answer.
        cache: a dict kept across batches by the Pipeline (lexicon, token speller: read once).
    """

    model: Any
    tokenizer: Any
    batch: dict
    audio: Any
    eos_token_id: int
    cache: dict = field(default_factory=dict)
    _memo: dict = field(default_factory=dict)

    @property
    def rows(self) -> int:
        return int(self.batch["input_ids"].shape[0])

    def token_ctc(self) -> tuple[Tensor, Tensor, Tensor]:
        """The alignment adapter's CTC per prompt row: logits (B, T, V), lengths (B,), active (B,) (one recording)."""
        if "token" not in self._memo:
            if getattr(self.audio, "ctc_logits", None) is None or not hasattr(self.model, "align_adapter"):
                raise SoundwaveError("ctc_weight needs a Soundwave model (one with a CTC alignment adapter)")
            self._memo["token"] = self.per_row(self.audio.ctc_logits, self.audio.ctc_lengths)
        return self._memo["token"]

    def spelling_ctc(self) -> tuple[Tensor, Tensor, Tensor]:
        """The spelling head's character CTC per prompt row: logits (B, T, C), lengths (B,), active (B,)."""
        if "spelling" not in self._memo:
            if getattr(self.model, "spelling_head", None) is None or getattr(self.audio, "frames", None) is None:
                raise SoundwaveError(
                    "spelling_weight and word_repair need a Soundwave model with a spelling head (model.spelling_head)"
                )
            logits = self.model.spelling_logits(self.audio.frames, self.audio.frame_lengths)  # (W, T, C)
            self._memo["spelling"] = self.per_row(logits, self.audio.frame_lengths)
        return self._memo["spelling"]

    def per_row(self, logits: Tensor, lengths: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """Per-window logits -> each prompt row's, with lengths and whether CTC applies to the row."""
        from soundwave.decoding.ctc_prefix import per_row_log_probs

        windows, per_row = self.batch.get("windows_per_item"), self.batch.get("audios_per_row")
        return per_row_log_probs(logits, lengths, windows, per_row, rows=self.rows)

    def cached(self, key: str, build):
        """`cache[key]`, built once per Pipeline."""
        if key not in self.cache:
            self.cache[key] = build()
        return self.cache[key]


class Rescorer:
    """One decoding add-on. Subclasses override what they do; the defaults do nothing."""

    name = "rescorer"
    rewrites = False  # whether `rewrite` changes texts after decoding

    def applies(self, config: GenerationConfig) -> bool:
        """Whether `config` turns this add-on on."""
        return False

    def max_new_tokens(self, context: DecodeContext, config: GenerationConfig) -> int:
        """The most new tokens worth generating for this batch under this add-on (its bound on decoding cost)."""
        return config.max_new_tokens

    def logits_processors(self, context: DecodeContext, config: GenerationConfig) -> list:
        """transformers logits processors that score tokens while decoding."""
        return []

    def nbest(self, config: GenerationConfig) -> int:
        """Hypotheses per row this add-on wants to see after decoding (1: the best)."""
        return 1

    def rewrite(
        self, context: DecodeContext, config: GenerationConfig, texts: list[str], nbest: int
    ) -> tuple[list[str], list[int]]:
        """After decoding (when `rewrites`): `texts` hold `nbest` hypotheses per row, best first; returns one text
        per row and the index in `texts` of the hypothesis each came from."""
        raise NotImplementedError


def row_audio_frames(context: DecodeContext) -> Tensor:
    """(B,) CTC frames of each prompt row's audio (0 where a row has none or several recordings)."""
    _, lengths, active = context.token_ctc()
    return torch.where(active.to(lengths.device), lengths, torch.zeros_like(lengths))
