"""`CtcAligner`: place a text's words in a recording with a Soundwave model's CTC heads.

    waveform --processor windows--> Whisper encoder (a few windows at a time) --> frames (W, T, D_a)
      --spelling head--> character CTC (W, T, 29), 20 ms frames       (soundwave-mini has one)
      --alignment adapter--> token CTC (W, T/2, V), 40 ms frames      (every Soundwave model)
      --windows joined in time (`timeline`)--> (T, C) --Viterbi (`forced_align`; stretch by stretch past a few
      minutes, `long_form`)--> unit frames --> words --> segments

The spelling head places words best (on festival's dev sentences: ends within 50 ms for 88 % of words against 31 %
with tokens, starts within 100 ms for all against 93 %, docs/timestamps.md), so a model with one aligns the letters
of the text with it; the token CTC then places only the words with nothing to spell ("21") or all words when the
letters find no path, and is the only head of a model without a spelling head. Of the token CTC only the columns the
text needs are kept (after a log-softmax over all V), so a 10-minute recording costs a few MB, not the 3 GB of its
full (W, 750, 49k) logits.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import torch

from soundwave.alignment.long_form import forced_align_long
from soundwave.alignment.result import Alignment, AlignmentTrace
from soundwave.alignment.segments import aligned
from soundwave.alignment.timeline import ENCODER_FRAME_SAMPLES, FRAME_SAMPLES, kept_frames
from soundwave.alignment.words import (
    Span,
    TextUnits,
    UnitPlace,
    build_words,
    spell_words,
    split_words,
    tokenize_words,
    unit_places,
    word_spans,
)
from soundwave.audio import SAMPLE_RATE
from soundwave.errors import SoundwaveError
from soundwave.model.spelling import BLANK as SPELLING_BLANK
from soundwave.model.spelling import CHARSET

MAX_WINDOWS = 8  # encoder windows (30 s each) encoded at once
# the spelling head's label i is its logits' column i, the blank (label 0) column 0, as `_place` wants it
SPELLING_COLUMNS = {label: label for label in range(SPELLING_BLANK + 1, len(CHARSET) + 1)}


@dataclass(frozen=True)
class HeadTiming:
    """How one CTC head's frames map to word times.

    A CTC emits a unit once it has heard some of it, so a word starts `lead` seconds before its first unit's
    frame and ends `lag` after its last unit's frame. Both were measured as the median offset on festival's dev
    sentences (`scripts/make_align_set.py --split valid`; soundwave-mini), never on the test sentences.
    """

    frame_samples: int
    lead: float
    lag: float

    @property
    def frame_seconds(self) -> float:
        return self.frame_samples / SAMPLE_RATE


TOKEN_TIMING = HeadTiming(FRAME_SAMPLES, lead=0.065, lag=0.09)
SPELLING_TIMING = HeadTiming(ENCODER_FRAME_SAMPLES, lead=0.06, lag=0.0)


def has_token_ctc(model) -> bool:
    """Whether `model` has a token CTC head over the LLM's vocabulary (a Soundwave model's alignment adapter)."""
    return all(hasattr(model, name) for name in ("align_adapter", "encode_frames", "align", "blank_id"))


def check_token_ctc(model) -> None:
    """Raise SoundwaveError unless `model` can be aligned with (`has_token_ctc`)."""
    if not has_token_ctc(model):
        raise SoundwaveError(
            f"timestamps and alignment need a token CTC head (a Soundwave model's alignment adapter); this model "
            f"({type(model).__name__}) has none: the SpeechLLM design maps audio to the LLM without CTC"
        )


class CtcAligner:
    """Forced alignment with a Soundwave model.

    Args:
        model: a Soundwave model (`encode_frames`, `align`, `blank_id`; `spelling_logits` when it has a spelling
            head).
        processor: its SpeechProcessor (windows, features, tokenizer).
        use_spelling: align with the spelling head when the model has one (False: the token CTC only).
        max_windows: encoder windows encoded at once (bounds memory on long recordings).

    Raises:
        SoundwaveError: the model has no token CTC (the SpeechLLM design).
    """

    def __init__(self, model, processor, use_spelling: bool = True, max_windows: int = MAX_WINDOWS) -> None:
        check_token_ctc(model)
        self.model, self.processor, self.max_windows = model, processor, max_windows
        self.use_spelling = use_spelling and getattr(model, "spelling_head", None) is not None

    @torch.inference_mode()
    def align(self, waveform: np.ndarray, text: str) -> Alignment:
        """Place the words of `text` in `waveform` (16 kHz mono). Every word of the text comes back, in order."""
        started = time.perf_counter()
        duration = waveform.shape[0] / SAMPLE_RATE
        if not split_words(text):  # nothing to place (an empty transcript)
            return Alignment(text, (), (), duration, seconds=time.perf_counter() - started)
        chunks = self._encode(waveform)
        spans: list[Span | None] = [None] * len(split_words(text))
        trace, units = None, None
        if self.use_spelling:
            units = spell_words(text)
            log_probs, times = self._spelling_log_probs(chunks, waveform.shape[0])
            spans, trace = self._place(units, log_probs, times, SPELLING_COLUMNS, SPELLING_TIMING)
        if units is None or any(span is None for span in spans):  # no spelling head, or words with no letters
            units = tokenize_words(self.processor.tokenizer, text)
            log_probs, times, columns = self._token_log_probs(chunks, waveform.shape[0], units.labels)
            token_spans, token_trace = self._place(units, log_probs, times, columns, TOKEN_TIMING)
            spans = [mine if mine is not None else theirs for mine, theirs in zip(spans, token_spans, strict=True)]
            trace = trace or token_trace
        words = build_words(units.words, spans, duration)
        return aligned(text, words, duration, time.perf_counter() - started, trace)

    def _place(
        self, units: TextUnits, log_probs: np.ndarray, times: np.ndarray, columns: dict[int, int], timing: HeadTiming
    ) -> tuple[list[Span | None], AlignmentTrace]:
        """Word spans from the forced path of `units`' labels through (T, C) log-probs (column 0: the blank).

        Labels without a column (token ids outside the CTC head's vocabulary) are left out of the path.
        """
        placeable = [i for i, label in enumerate(units.labels) if label in columns]
        targets = [columns[units.labels[i]] for i in placeable]
        owners = [units.word_of_label[i] for i in placeable]
        word_ends = [o >= 0 and (k + 1 == len(owners) or owners[k + 1] != o) for k, o in enumerate(owners)]
        path = forced_align_long(log_probs, targets, 0, word_ends)
        places: list[UnitPlace | None] = [None] * len(units.labels)
        if path is not None:
            for index, place in zip(placeable, unit_places(path, log_probs, targets), strict=True):
                places[index] = place
        spans = word_spans(units, places, times, timing.frame_seconds, timing.lead, timing.lag)
        peaks = tuple(
            (float(times[p.first]), self._label_text(units, i, timing)) for i, p in enumerate(places) if p is not None
        )
        speech = 1.0 - np.exp(log_probs[:, 0]) if len(log_probs) else np.zeros(0)
        return spans, AlignmentTrace(times=times, speech=speech, peaks=peaks)

    def _label_text(self, units: TextUnits, index: int, timing: HeadTiming) -> str:
        label = units.labels[index]
        if timing is SPELLING_TIMING:
            return CHARSET[label - 1]
        return self.processor.tokenizer.decode([label])

    # ---- the model ------------------------------------------------------------------------------------------------
    def _encode(self, waveform: np.ndarray) -> list[tuple[torch.Tensor, torch.Tensor]]:
        """Encoder frames (w, T, D_a) and valid lengths (w,) of the recording's windows, `max_windows` at a time."""
        batch = self.processor.audio_batch([waveform])
        device = self.model.device
        chunks = []
        for first in range(0, batch.audios.shape[0], self.max_windows):
            part = slice(first, first + self.max_windows)
            mel, mel_lengths = batch.audios[part].to(device), batch.audio_lengths[part].to(device)
            chunks.append(self.model.encode_frames(mel, mel_lengths))
        return chunks

    def _join(self, pieces: list[np.ndarray], lengths: list[int], n_samples: int, frame_samples: int):
        """Per-window (T_w, C) log-probs -> the recording's (T, C) and (T,) frame times."""
        kept = kept_frames(n_samples, self.processor.window, self.processor.overlap, lengths, frame_samples)
        log_probs = np.concatenate([piece[frames] for piece, (frames, _) in zip(pieces, kept, strict=True)])
        return log_probs.astype(np.float64), np.concatenate([at for _, at in kept])

    def _spelling_log_probs(self, chunks, n_samples: int) -> tuple[np.ndarray, np.ndarray]:
        """The spelling head's character log-probs (T, 29) over the recording, and frame times (T,)."""
        pieces, lengths = [], []
        for frames, frame_lengths in chunks:
            logits = self.model.spelling_logits(frames, frame_lengths).float()  # (w, T, 29)
            pieces += list(logits.log_softmax(dim=-1).cpu().numpy())
            lengths += [int(n) for n in frame_lengths.tolist()]
        return self._join(pieces, lengths, n_samples, SPELLING_TIMING.frame_samples)

    def _token_log_probs(self, chunks, n_samples: int, token_ids) -> tuple[np.ndarray, np.ndarray, dict[int, int]]:
        """The token CTC's log-probs over the text's columns (T, C) (the blank's first), frame times (T,), and the
        column of each token id it can emit."""
        pieces, lengths, columns = [], [], {}
        for frames, frame_lengths in chunks:
            _, logits, ctc_lengths = self.model.align(frames, frame_lengths)  # (w, T', V)
            vocab, blank = logits.shape[-1], self.model.blank_id
            ids = sorted({t for t in token_ids if t < vocab and t != blank})
            columns = {t: c + 1 for c, t in enumerate(ids)}
            index = torch.tensor([blank, *ids], device=logits.device)
            for row in logits:  # one window at a time: a float32 (T', V) copy, not (w, T', V)
                row = row.float()
                pieces.append((row[:, index] - row.logsumexp(dim=-1, keepdim=True)).cpu().numpy())  # (T', C)
            lengths += [int(n) for n in ctc_lengths.tolist()]
        log_probs, times = self._join(pieces, lengths, n_samples, TOKEN_TIMING.frame_samples)
        return log_probs, times, columns
