"""Stretch-by-stretch alignment of long recordings gives the one-Viterbi path, in linear time."""

import numpy as np

from soundwave.alignment.long_form import forced_align_long
from soundwave.alignment.viterbi import forced_align

BLANK = 0


def speech(words: list[list[int]], pauses: list[int], rng) -> tuple[np.ndarray, list[int], list[bool]]:
    """Log-probs of a recording that says `words` (lists of labels 1..5), each label for 1-3 frames, words
    separated by `pauses` blank frames; plus the flat labels and which label ends a word."""
    rows, tokens, ends = [], [], []
    for word, pause in zip(words, pauses, strict=True):
        rows += [BLANK] * pause
        for index, label in enumerate(word):
            rows += [label] * int(rng.integers(1, 4)) + [BLANK]  # a blank after each: repeats stay possible
            tokens.append(label)
            ends.append(index == len(word) - 1)
    probs = np.full((len(rows), 6), 0.02)
    probs[np.arange(len(rows)), rows] = 0.9
    probs += rng.uniform(0, 0.05, probs.shape)  # some noise, so the path is not a tie everywhere
    return np.log(probs / probs.sum(axis=1, keepdims=True)), tokens, ends


def test_stretches_give_the_whole_recording_path():
    rng = np.random.default_rng(0)
    words = [list(rng.integers(1, 6, size=int(rng.integers(1, 6)))) for _ in range(120)]
    pauses = [int(p) for p in rng.choice([1, 2, 40], size=120, p=[0.6, 0.3, 0.1])]  # some long silences
    log_probs, tokens, ends = speech(words, pauses, rng)
    assert len(log_probs) > 4 * 300
    whole = forced_align(log_probs, tokens, BLANK)
    stretched = forced_align_long(log_probs, tokens, BLANK, ends, window=300)
    assert stretched is not None
    assert (stretched == whole).mean() > 0.99  # ties may resolve a frame differently; nothing else
    first = lambda path: [int(np.flatnonzero(path == i)[0]) for i in range(len(tokens))]  # noqa: E731
    assert first(stretched) == first(whole)


def test_a_long_silence_and_nothing_to_align():
    rng = np.random.default_rng(1)
    log_probs, tokens, ends = speech([[1, 2], [3]], [700, 5], rng)  # 700 blank frames, then two words
    path = forced_align_long(log_probs, tokens, BLANK, ends, window=200)
    assert path is not None and (path[:700] == -1).all()
    assert (path == forced_align(log_probs, tokens, BLANK)).all()
    assert (forced_align_long(log_probs, [], BLANK, [], window=200) == -1).all()
