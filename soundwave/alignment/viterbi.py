"""CTC forced alignment: the most likely frame-by-frame path that spells a given token sequence.

The standard CTC trellis over 2L + 1 states (a blank before, between and after the L tokens); each frame a state
stays, moves on by one, or skips a blank between two different tokens. Viterbi keeps the best path into each state
and backtracks from the two final states:

    log-probs (T, V) + tokens (L,) --Viterbi over (T, 2L + 1)--> per frame: the token index emitted, or -1 (blank)
"""

from __future__ import annotations

import numpy as np

NEG_INF = -np.inf


def forced_align(log_probs: np.ndarray, tokens: list[int], blank: int, open_end: bool = False) -> np.ndarray | None:
    """The best CTC path of `tokens` through (T, V) log-probs: (T,) token index per frame, -1 where blank.

    None when no path exists (fewer frames than the tokens need: one each, plus a blank between repeats).
    `open_end`: the path may stop anywhere in the tokens (the frames hold only a first part of them; used by
    `long_form`), so it spells a prefix of `tokens`.
    """
    frames = log_probs.shape[0]
    length = len(tokens)
    if length == 0:
        return np.full(frames, -1)
    repeats = sum(a == b for a, b in zip(tokens, tokens[1:], strict=False))
    if frames < length + repeats and not open_end:
        return None
    labels = np.full(2 * length + 1, blank)
    labels[1::2] = tokens  # (S,) blank, t1, blank, t2, ..., tL, blank
    can_skip = np.zeros(len(labels), dtype=bool)  # a token state may come from two states back (skip the blank)
    can_skip[3::2] = np.asarray(tokens[1:]) != np.asarray(tokens[:-1])
    score = np.full(len(labels), NEG_INF)
    score[:2] = log_probs[0, labels[:2]]
    # emissions are read frame by frame: a (T, S) table would be 0.5 GB for 10 minutes of speech
    back = np.zeros((frames, len(labels)), dtype=np.int8)  # 0 stay, 1 from s-1, 2 from s-2
    for t in range(1, frames):
        stay = score
        step = np.concatenate([[NEG_INF], score[:-1]])
        skip = np.where(can_skip, np.concatenate([[NEG_INF, NEG_INF], score[:-2]]), NEG_INF)
        moves = np.stack([stay, step, skip])  # (3, S)
        back[t] = moves.argmax(axis=0)
        score = moves.max(axis=0) + log_probs[t, labels]
    last = len(labels) - 1
    state = int(score.argmax()) if open_end else (last if score[last] >= score[last - 1] else last - 1)
    if not np.isfinite(score[state]):
        return None
    path = np.empty(frames, dtype=np.int64)
    for t in range(frames - 1, -1, -1):
        path[t] = (state - 1) // 2 if state % 2 else -1
        state -= int(back[t, state])  # a Python int: int8 arithmetic would wrap past state 127
    return path
