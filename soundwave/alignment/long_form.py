"""Forced alignment of long recordings stretch by stretch: time and memory linear in the length, not quadratic.

One Viterbi over T frames and L units costs T x (2L + 1) steps and as many back-pointers: for 10 minutes of speech
through the spelling head (30,000 frames, ~8,000 letters) about 20 s and 0.5 GB on a laptop core, for an hour
36 times both. Past WINDOW frames the path is found a stretch of WINDOW frames at a time, against the units that
stretch can hold (`forced_align(open_end=True)`: the path may stop anywhere in them):

    frames  |----------- stretch 1 -----------|
            |==== kept (2/3) ====|---- again --|---- stretch 2 ...
    units   the path up to the last word that ends in the kept part is final; the next stretch starts after it

Viterbi paths agree well before their end, so what is kept is what one Viterbi over everything would give (the
test compares them); the last stretch ends where the units end, as a whole-recording alignment does.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from soundwave.alignment.viterbi import forced_align

WINDOW = 3000  # frames per stretch: 60 s of the spelling head's frames, 120 s of the token CTC's
KEEP = 2 / 3  # of a stretch, the part whose path is final
SPARE = 64  # units a stretch may hold beyond twice the recording's average rate


def forced_align_long(
    log_probs: np.ndarray, tokens: list[int], blank: int, word_ends: Sequence[bool], window: int | None = None
) -> np.ndarray | None:
    """`forced_align` for any length: (T,) token index per frame, -1 where blank; None when no path exists.

    Args:
        log_probs: (T, V) CTC log-probs.
        tokens: the L labels to align, in order.
        blank: the blank's column.
        word_ends: (L,) whether a stretch may end after each label (the last label of a word).
        window: frames per stretch (None: WINDOW); a recording that fits one stretch gets one Viterbi.
    """
    window = window or WINDOW
    frames, length = log_probs.shape[0], len(tokens)
    if frames <= window or length == 0:
        return forced_align(log_probs, tokens, blank)
    path = np.full(frames, -1, dtype=np.int64)
    start, first = 0, 0  # the first frame and the first label not aligned yet
    holds = int(2 * window * length / frames) + SPARE  # labels a stretch may hold, generously
    while frames - start > window and first < length:
        piece = forced_align(log_probs[start : start + window], tokens[first : first + holds], blank, open_end=True)
        if piece is None:
            return None
        cut = _cut(piece, word_ends[first : first + holds], int(window * KEEP))
        if cut is None:  # nothing said in the whole stretch: all blank, move on
            start += int(window * KEEP)
            continue
        label, frame = cut
        kept = piece[: frame + 1]
        path[start : start + frame + 1] = np.where(kept >= 0, kept + first, -1)
        start, first = start + frame + 1, first + label + 1
    rest = forced_align(log_probs[start:], tokens[first:], blank)
    if rest is None:
        return None
    path[start:] = np.where(rest >= 0, rest + first, -1)
    return path


def _cut(piece: np.ndarray, word_ends: Sequence[bool], keep: int) -> tuple[int, int] | None:
    """(label, its last frame) of the last word end the path reaches within `keep` frames, else of the first word
    end it reaches at all; None when it emits nothing."""
    emitted = np.flatnonzero(piece >= 0)
    if not len(emitted):
        return None
    last_frame = {int(label): int(frame) for frame, label in zip(emitted, piece[emitted], strict=True)}
    ends = [label for label in sorted(last_frame) if word_ends[label]]
    within = [label for label in ends if last_frame[label] < keep]
    if within:
        return within[-1], last_frame[within[-1]]
    if ends:
        return ends[0], last_frame[ends[0]]
    label = max(last_frame)  # a word longer than the stretch (no word ends in it): cut after what it reached
    return label, last_frame[label]
