"""Frame times across encoder windows: continuous, no repeats, overlaps split in the middle."""

import numpy as np
import pytest

from soundwave.alignment.timeline import FRAME_SAMPLES, FRAME_SECONDS, kept_frames, window_starts
from soundwave.processor import split_windows

WINDOW = 30 * 16_000


def test_a_short_clip_keeps_only_the_frames_of_its_audio():
    """A released model reports a whole window (750 frames) for 2 s of audio: 50 frames are kept."""
    ((frames, times),) = kept_frames(2 * 16_000, WINDOW, 0, [750])
    assert frames.tolist() == list(range(50))
    assert times == pytest.approx(np.arange(50) * FRAME_SECONDS)


@pytest.mark.parametrize("overlap_seconds", [0, 4, 5.01])
def test_long_audio_frames_are_continuous_across_windows(overlap_seconds):
    n_samples = 75 * 16_000
    overlap = int(overlap_seconds * 16_000)
    windows = split_windows(np.zeros(n_samples, dtype=np.float32), WINDOW, overlap)
    assert window_starts(n_samples, WINDOW, overlap)[1:] == [k * (WINDOW - overlap) for k in range(1, len(windows))]
    lengths = [-(-w.shape[0] // FRAME_SAMPLES) for w in windows]  # what the model reports per window
    kept = kept_frames(n_samples, WINDOW, overlap, lengths)
    times = np.concatenate([t for _, t in kept])
    assert (np.diff(times) > 0).all()  # in order, nothing twice
    assert np.diff(times).max() <= FRAME_SECONDS + 1e-9  # no hole at a window boundary
    assert times[0] == 0 and times[-1] == pytest.approx(75 - FRAME_SECONDS, abs=FRAME_SECONDS)
    if overlap:  # the second window takes over in the middle of the overlap, not at its start
        switch = kept[1][1][0]
        assert switch == pytest.approx((WINDOW - overlap) / 16_000 + overlap_seconds / 2, abs=FRAME_SECONDS)


def test_window_count_must_match():
    with pytest.raises(ValueError, match="windows"):
        kept_frames(40 * 16_000, WINDOW, 0, [750])
