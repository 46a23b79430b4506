"""CTC forced alignment against a brute-force search over every path on small cases."""

import itertools

import numpy as np
import pytest

from soundwave.alignment.viterbi import forced_align

BLANK = 0


def collapse(path: list[int]) -> list[int]:
    return [t for i, t in enumerate(path) if t != BLANK and (i == 0 or t != path[i - 1])]


def brute_force(log_probs: np.ndarray, tokens: list[int]) -> float:
    """The best score of any frame labelling that collapses to `tokens`."""
    frames, vocab = log_probs.shape
    best = -np.inf
    for path in itertools.product(range(vocab), repeat=frames):
        if collapse(list(path)) == tokens:
            best = max(best, sum(log_probs[t, c] for t, c in enumerate(path)))
    return best


def path_score(log_probs: np.ndarray, tokens: list[int], path: np.ndarray) -> tuple[float, list[int]]:
    """The score of an alignment (token index per frame, -1 blank) and what it spells."""
    labels = [tokens[i] if i >= 0 else BLANK for i in path]
    spelled, previous = [], -1
    for i in path:  # a new emission wherever the token index changes to a token
        if i >= 0 and i != previous:
            spelled.append(tokens[i])
        previous = i
    return float(sum(log_probs[t, c] for t, c in enumerate(labels))), spelled


@pytest.mark.parametrize("tokens", [[1], [1, 2], [2, 2], [1, 2, 1], [3, 3, 3]])
@pytest.mark.parametrize("frames", [3, 5, 6])
def test_the_viterbi_path_is_the_best_path_that_spells_the_tokens(tokens, frames):
    rng = np.random.default_rng(frames * 10 + len(tokens))
    log_probs = rng.normal(size=(frames, 4))
    log_probs -= np.log(np.exp(log_probs).sum(axis=1, keepdims=True))
    expected = brute_force(log_probs, tokens)
    path = forced_align(log_probs, tokens, BLANK)
    if not np.isfinite(expected):
        assert path is None
        return
    score, spelled = path_score(log_probs, tokens, path)
    assert spelled == tokens
    assert score == pytest.approx(expected, abs=1e-9)


def test_no_path_when_the_frames_are_too_few():
    log_probs = np.log(np.full((2, 4), 0.25))
    assert forced_align(log_probs, [1, 1], BLANK) is None  # a repeat needs a blank between: 3 frames
    assert forced_align(log_probs, [1, 2, 3], BLANK) is None
    assert (forced_align(log_probs, [], BLANK) == -1).all()


def test_long_texts_backtrack_through_hundreds_of_states():
    """200 tokens: 401 trellis states, far past what the int8 back-pointers could index themselves."""
    tokens = [1 + i % 3 for i in range(200)]
    frames = 2 * len(tokens) + 1
    log_probs = np.full((frames, 4), np.log(0.01))
    log_probs[0::2, BLANK] = np.log(0.97)  # blank, token, blank, token, ...: token i at frame 2i + 1
    for i, token in enumerate(tokens):
        log_probs[2 * i + 1, token] = np.log(0.97)
    path = forced_align(log_probs, tokens, BLANK)
    assert path is not None
    assert np.flatnonzero(path >= 0).tolist() == [2 * i + 1 for i in range(len(tokens))]
    assert path[path >= 0].tolist() == list(range(len(tokens)))
