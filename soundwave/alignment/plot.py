"""An alignment as a picture: the waveform with each word's span, and the CTC's peaks, on one time axis.

    top:    waveform; each word a shaded span with its text (red, hatched: interpolated, not placed by the CTC);
            with reference times (an eval), a dashed black line at each reference word's start
    bottom: 1 - p(blank) per CTC frame, and a tick at each unit of the text where the forced path emits it

Rendered with matplotlib's Agg backend (no display needed).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

import numpy as np

from soundwave.alignment.result import Alignment
from soundwave.audio import SAMPLE_RATE

MAX_POINTS = 3_000  # columns of the waveform drawn: min/max envelope of each (a solid shape at screen resolution)


def _envelope(waveform: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(times, low, high) of the waveform, at most MAX_POINTS columns."""
    step = max(1, waveform.shape[0] // MAX_POINTS)
    usable = waveform[: waveform.shape[0] // step * step].reshape(-1, step)  # (n / step, step)
    times = (np.arange(usable.shape[0]) * step) / SAMPLE_RATE
    return times, usable.min(axis=1), usable.max(axis=1)


def plot_alignment(
    waveform: np.ndarray,
    alignment: Alignment,
    path: str | os.PathLike,
    title: str | None = None,
    start: float = 0.0,
    end: float | None = None,
    reference: Sequence[dict[str, Any]] = (),
) -> None:
    """Write a PNG of `alignment` over `waveform` (16 kHz mono) to `path`, between `start` and `end` seconds.

    `reference`: true word times ({"word", "start", "end"}) to draw beside the alignment's.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    end = alignment.duration if end is None else end
    width = float(np.clip((end - start) * 1.6, 8, 40))
    figure, (top, bottom) = plt.subplots(2, 1, figsize=(width, 4.5), sharex=True, gridspec_kw={"height_ratios": [3, 2]})
    times, low, high = _envelope(waveform)
    top.fill_between(times, low, high, color="0.15", linewidth=0, zorder=2)
    peak = float(np.abs(waveform).max()) or 1.0
    for index, word in enumerate(alignment.words):
        if word.end < start or word.start > end:
            continue
        color = "tab:red" if word.interpolated else ("tab:blue" if index % 2 else "tab:green")
        hatch = "//" if word.interpolated else None
        top.axvspan(word.start, word.end, color=color, alpha=0.18, hatch=hatch, zorder=1)
        top.text(
            (word.start + word.end) / 2,
            peak * (1.05 if index % 2 else 0.85),
            word.word,
            ha="center",
            va="bottom",
            fontsize=9,
            color=color,
        )
    for word in reference:
        top.axvline(float(word["start"]), color="black", linestyle="--", linewidth=0.8, zorder=3)
    top.set_ylim(-peak * 1.1, peak * 1.35)
    top.set_ylabel("waveform")
    top.set_yticks([])
    trace = alignment.trace
    if trace is not None and len(trace.times):
        step = float(np.median(np.diff(trace.times))) if len(trace.times) > 1 else 0.04
        bottom.step(trace.times + step / 2, trace.speech, where="mid", color="tab:purple", linewidth=1)
        for at, label in trace.peaks:
            if start <= at <= end:
                bottom.axvline(at + step / 2, color="tab:orange", linewidth=0.8, alpha=0.7)
                bottom.text(at + step / 2, 1.02, label.strip() or "␣", ha="center", va="bottom", fontsize=7)
    bottom.set_ylim(0, 1.2)
    bottom.set_ylabel("1 - p(blank)")
    bottom.set_xlabel("seconds")
    bottom.set_xlim(start, end)
    figure.suptitle(title or alignment.text[:120], fontsize=10)
    figure.tight_layout()
    figure.savefig(path, format="png", dpi=100)
    plt.close(figure)
