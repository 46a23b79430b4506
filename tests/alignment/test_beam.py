"""CTC prefix beam search: the likeliest token sequence summed over its alignments (live captions' finals)."""

import itertools
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from soundwave.alignment.beam import MAX_BEAM, FrameCandidates, prefix_beam_search
from soundwave.alignment.greedy import emitted_tokens

BLANK = 0


def sequence_log_prob(log_probs: torch.Tensor, labels: tuple[int, ...]) -> float:
    """log P(labels | frames), summed over every alignment (torch's CTC loss)."""
    loss = F.ctc_loss(
        log_probs[:, None, :],  # (T, V) -> (T, 1, V)
        torch.tensor([labels], dtype=torch.long) if labels else torch.zeros(1, 0, dtype=torch.long),
        input_lengths=torch.tensor([log_probs.shape[0]]),
        target_lengths=torch.tensor([len(labels)]),
        blank=BLANK,
        reduction="sum",
        zero_infinity=False,
    )
    return -float(loss)


def test_a_token_spread_over_frames_below_the_blank_is_read_where_the_greedy_path_loses_it():
    # Each frame: blank 0.40, token 1 0.35, token 2 0.25. Best path: blank, blank (P = 0.16, no token); but
    # "1" has P = 0.35^2 + 2 x 0.35 x 0.40 = 0.4025 over its three alignments.
    log_probs = torch.tensor([[0.40, 0.35, 0.25]] * 2).log()  # (T, V)
    assert [t for t, _, _ in emitted_tokens(log_probs.argmax(-1).numpy(), BLANK)] == []
    best, score = prefix_beam_search(FrameCandidates.of(log_probs, BLANK, 3), BLANK, beam=4)[0]
    assert best == (1,)
    assert score == pytest.approx(math.log(0.4025), abs=1e-6)


@pytest.mark.parametrize("seed", range(5))
def test_with_room_for_every_prefix_it_finds_the_likeliest_sequence_with_its_exact_probability(seed):
    # Two tokens and a blank over five frames: 63 possible sequences, all within a beam of 64.
    torch.manual_seed(seed)
    log_probs = torch.randn(5, 3).mul(1.5).log_softmax(-1)  # (T, V)
    found = prefix_beam_search(FrameCandidates.of(log_probs, BLANK, 3), BLANK, beam=MAX_BEAM)
    every = [s for n in range(6) for s in itertools.product((1, 2), repeat=n)]
    exact = {s: sequence_log_prob(log_probs, s) for s in every}
    likeliest = max(exact, key=exact.get)
    assert found[0][0] == likeliest
    for labels, score in found:  # every sequence it reports carries its own probability
        assert score == pytest.approx(exact[labels], abs=1e-5)
    scores = [score for _, score in found]
    assert scores == sorted(scores, reverse=True)


def test_a_confident_ctc_gives_the_greedy_tokens_repeats_and_all():
    path = [0, 3, 3, 0, 3, 5, 5, 0, 0, 2]  # "3 3 5 2": a blank separates the two 3s
    log_probs = F.one_hot(torch.tensor(path), 6).float().mul(12.0).log_softmax(-1)  # (T, V)
    best, _ = prefix_beam_search(FrameCandidates.of(log_probs, BLANK, 4), BLANK, beam=4)[0]
    assert best == (3, 3, 5, 2)
    assert prefix_beam_search(FrameCandidates.of(log_probs[:0], BLANK, 4), BLANK, beam=4) == [((), 0.0)]


def test_frames_cut_a_stretch_and_the_beam_is_bounded():
    log_probs = torch.randn(7, 9).log_softmax(-1)
    candidates = FrameCandidates.of(log_probs, BLANK, 3)
    assert candidates.ids.shape == (7, 3) and len(candidates.frames(2, 5)) == 3
    assert np.array_equal(candidates.frames(2, 5).blank, log_probs[2:5, BLANK].numpy())
    for beam in (0, MAX_BEAM + 1):
        with pytest.raises(ValueError, match="beam"):
            prefix_beam_search(candidates, BLANK, beam)
