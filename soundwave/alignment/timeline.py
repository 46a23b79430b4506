"""The time of every CTC frame of a recording, across its encoder windows.

A recording longer than one window (30 s) is encoded window by window (`soundwave.processor.split_windows`),
consecutive windows sharing `overlap` samples. Window k starts at k * (window - overlap) samples; its CTC frame t
starts FRAME_SECONDS * t later. Where two windows overlap, each keeps the frames on its side of the middle of the
overlap (a window is least sure at its edges), so the recording's frames are in time order with no repeats:

    window 0: |--------------------------|
    window 1:                    |--------------------------|
    kept:     |0000000000000000000000|11111111111111111111111|  (the middle of the overlap splits them)
"""

from __future__ import annotations

import math

import numpy as np

from soundwave.audio import SAMPLE_RATE
from soundwave.model.align_adapter import STACK
from soundwave.processor import HOP_LENGTH

ENCODER_STRIDE = 2  # Whisper's second convolution halves the 10 ms mel frames
ENCODER_FRAME_SAMPLES = HOP_LENGTH * ENCODER_STRIDE  # 320 samples, 20 ms: the spelling head's CTC frame
FRAME_SAMPLES = ENCODER_FRAME_SAMPLES * STACK  # 640 samples, 40 ms: the alignment adapter's CTC frame
FRAME_SECONDS = FRAME_SAMPLES / SAMPLE_RATE


def window_starts(n_samples: int, window: int, overlap: int = 0) -> list[int]:
    """First sample of each window `split_windows` cuts from `n_samples` samples."""
    if n_samples <= window:
        return [0]
    hop = window - overlap
    return [k * hop for k in range(1 + math.ceil((n_samples - window) / hop))]


def kept_frames(
    n_samples: int, window: int, overlap: int, ctc_lengths: list[int], frame_samples: int = FRAME_SAMPLES
) -> list[tuple[np.ndarray, np.ndarray]]:
    """Which CTC frames of each window a recording keeps, and when they start.

    Args:
        n_samples: the recording's length at 16 kHz.
        window: samples per encoder window; overlap: samples shared by consecutive windows.
        ctc_lengths: valid CTC frames of each window (a released model reports a whole window's 750 even for a
            short clip: frames past the audio are dropped here).
        frame_samples: samples per CTC frame (640 for the token CTC, 320 for the spelling head's).

    Returns:
        Per window: (F_k,) frame indices into that window and (F_k,) their start times in seconds from the start
        of the recording; concatenated they are strictly increasing.
    """
    starts = window_starts(n_samples, window, overlap)
    if len(starts) != len(ctc_lengths):
        raise ValueError(f"{len(ctc_lengths)} windows of CTC frames for {len(starts)} windows of audio")
    kept = []
    for k, (start, length) in enumerate(zip(starts, ctc_lengths, strict=True)):
        samples = min(window, n_samples - start)
        frames = np.arange(min(length, math.ceil(samples / frame_samples)))
        at = start + frames * frame_samples  # (F,) first sample of each frame
        low = start + overlap / 2 if k > 0 else 0
        high = start + window - overlap / 2 if k < len(starts) - 1 else math.inf
        keep = (at >= low) & (at < high)
        kept.append((frames[keep], at[keep] / SAMPLE_RATE))
    return kept
