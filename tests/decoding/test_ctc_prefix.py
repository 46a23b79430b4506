"""Joint CTC / LLM decoding: prefix scores against torch's CTC loss, the scorer in greedy and beam generation."""

import pytest
import torch
import torch.nn.functional as F

from soundwave.decoding.ctc_prefix import (
    CTCPrefixScorer,
    empty_prefix,
    full_score,
    heard_nothing,
    per_row_log_probs,
    prefix_extend,
    with_blank_penalty,
)
from soundwave.errors import SoundwaveError

BLANK, V, T = 0, 6, 9


def _extend(logp, lengths, r, prefix, tokens):
    """Extend one prefix (R = 1) by each of `tokens`: r (K, T, 2), psi (K,)."""
    last = torch.tensor([prefix[-1] if prefix else -1])
    r_new, psi = prefix_extend(logp, lengths, r, last, torch.tensor([not prefix]), torch.tensor([tokens]), BLANK)
    return r_new[0], psi[0]


def _walk(logp, lengths, target):
    """Forward variables and prefix score of `target`, built one token at a time."""
    r, psi = empty_prefix(logp, BLANK)[0], torch.tensor(0.0)
    for i, token in enumerate(target):
        r_k, psi_k = _extend(logp, lengths, r[None], target[:i], [token])
        r, psi = r_k[0], psi_k[0]
    return r, psi


def _looped(logp, lengths, r_prefix, last, empty, candidates):
    """The frame-by-frame recursion (Watanabe et al. 2017, Algorithm 2) that `prefix_extend` solves in closed form."""
    rows, frames, vocab = logp.shape
    x_c = torch.gather(logp, 2, candidates[:, None, :].expand(-1, frames, -1)).transpose(1, 2)  # (R, K, T)
    x_c = x_c.masked_fill((candidates == BLANK)[..., None], float("-inf"))
    x_blank = logp[:, None, :, BLANK]
    prefix_any = torch.logaddexp(r_prefix[..., 0], r_prefix[..., 1])
    repeats = (candidates == last[:, None]) & ~empty[:, None]
    phi = torch.where(repeats[..., None], r_prefix[:, None, :, 1], prefix_any[:, None, :])
    r = torch.full((rows, candidates.shape[1], frames, 2), float("-inf"), dtype=logp.dtype)
    r[:, :, 0, 0] = torch.where(empty[:, None], x_c[:, :, 0], float("-inf"))
    psi = r[:, :, 0, 0].clone()
    for t in range(1, frames):
        r[:, :, t, 0] = torch.logaddexp(r[:, :, t - 1, 0], phi[:, :, t - 1]) + x_c[:, :, t]
        r[:, :, t, 1] = torch.logaddexp(r[:, :, t - 1, 0], r[:, :, t - 1, 1]) + x_blank[:, :, t]
        step = torch.logaddexp(psi, phi[:, :, t - 1] + x_c[:, :, t])
        psi = torch.where((t < lengths)[:, None], step, psi)
    return r, psi


@pytest.mark.parametrize("frames", [1, 2, 40, 1500])
def test_closed_form_equals_the_frame_by_frame_recursion(frames):
    """Long clips, peaked (near-certain) frames, repeats, the blank and ragged lengths: the same numbers."""
    torch.manual_seed(frames)
    logp = (torch.randn(3, frames, V, dtype=torch.float64) * 8).log_softmax(-1)  # peaked: log-probs down to ~-100
    lengths = torch.tensor([frames, max(1, frames // 2), max(1, frames - 1)])
    r_prefix = torch.stack(
        [
            empty_prefix(logp[:1], BLANK)[0],
            *_extend(logp[1:2], lengths[1:2], empty_prefix(logp[1:2], BLANK), [], [3])[0][:1],
            empty_prefix(logp[2:], BLANK)[0],
        ]
    )  # rows: empty, "3", empty
    last, empty = torch.tensor([-1, 3, -1]), torch.tensor([True, False, True])
    candidates = torch.tensor([[1, 3, BLANK], [3, 4, 1], [2, 2, 5]])
    r, psi = prefix_extend(logp, lengths, r_prefix, last, empty, candidates, BLANK)
    r_ref, psi_ref = _looped(logp, lengths, r_prefix, last, empty, candidates)
    assert torch.equal(torch.isinf(r), torch.isinf(r_ref)) and torch.equal(torch.isinf(psi), torch.isinf(psi_ref))
    finite = ~torch.isinf(r_ref)
    assert torch.allclose(r[finite], r_ref[finite], rtol=1e-9, atol=1e-6)
    assert torch.allclose(psi[~torch.isinf(psi_ref)], psi_ref[~torch.isinf(psi_ref)], rtol=1e-9, atol=1e-6)


@pytest.mark.parametrize("target", [[1], [2, 3], [3, 3], [1, 2, 1, 4], [5, 5, 5]])
def test_full_score_is_the_ctc_probability_of_the_whole_target(target):
    torch.manual_seed(len(target))
    logp = torch.randn(1, T, V).log_softmax(-1)
    lengths = torch.tensor([T])
    r, _ = _walk(logp, lengths, target)
    loss = F.ctc_loss(logp.transpose(0, 1), torch.tensor([target]), lengths, torch.tensor([len(target)]), BLANK, "sum")
    assert full_score(r[None], lengths)[0].item() == pytest.approx(-loss.item(), abs=1e-4)


def test_prefix_score_splits_into_ending_here_and_every_continuation():
    """p(g is a prefix) = p(transcript = g) + sum over labels c of p(g + c is a prefix)."""
    torch.manual_seed(0)
    logp = torch.randn(1, T, V).log_softmax(-1)
    lengths = torch.tensor([T])
    for prefix in ([], [2], [2, 2], [4, 1]):
        r, psi = _walk(logp, lengths, prefix)
        _, psi_next = _extend(logp, lengths, r[None], prefix, list(range(1, V)))
        parts = torch.logsumexp(torch.cat([full_score(r[None], lengths), psi_next]), dim=0)
        assert parts.item() == pytest.approx(psi.item(), abs=1e-4)


def test_frames_past_a_rows_length_do_not_count():
    torch.manual_seed(1)
    short = torch.randn(1, 5, V).log_softmax(-1)
    padded = torch.cat([short, torch.randn(1, 4, V).log_softmax(-1)], dim=1)  # (1, 9, V): 4 padding frames
    for logp in (short, padded):
        r, psi = _walk(logp, torch.tensor([5]), [3, 1])
        scores = (psi.item(), full_score(r[None], torch.tensor([5]))[0].item())
        if logp is short:
            expected = scores
    assert scores == pytest.approx(expected, abs=1e-5)


def _peaky(target, frames=12):
    """CTC log-probs that are sure of `target` (one frame each, blanks between)."""
    logits = torch.full((1, frames, V), -8.0)
    logits[0, :, BLANK] = 8.0
    for i, token in enumerate(target):
        logits[0, 2 * i + 1, BLANK], logits[0, 2 * i + 1, token] = -8.0, 8.0
    return logits.log_softmax(-1)


def _greedy(scorer, llm_scores, steps, eos):
    ids = torch.zeros(1, 0, dtype=torch.long)
    for step in range(steps):
        token = scorer(ids, llm_scores[step : step + 1]).argmax(-1)
        ids = torch.cat([ids, token[:, None]], dim=1)
        if int(token) == eos:
            break
    return ids[0].tolist()


def test_full_weight_decodes_what_ctc_heard_whatever_the_llm_prefers():
    eos = V  # the LLM's vocabulary: the CTC labels + an end-of-turn token
    target = [2, 4, 4, 1]
    scorer = CTCPrefixScorer(_peaky(target), torch.tensor([12]), BLANK, [eos], weight=1.0, candidates=2)
    llm = torch.zeros(10, V + 1)
    llm[:, 3] = 5.0  # the LLM insists on token 3, which the audio never holds
    assert _greedy(scorer, llm, 10, eos) == [*target, eos]


def test_small_weight_leaves_a_confident_llm_in_charge():
    eos = V
    scorer = CTCPrefixScorer(_peaky([2]), torch.tensor([12]), BLANK, [eos], weight=0.01, candidates=3)
    llm = torch.full((4, V + 1), -20.0)
    llm[0, 5], llm[1, eos] = 0.0, 0.0
    assert _greedy(scorer, llm, 4, eos) == [5, eos]


def test_inactive_rows_and_ended_rows_keep_the_llm_scores():
    eos = V
    scorer = CTCPrefixScorer(
        _peaky([2]).repeat(2, 1, 1), torch.tensor([12, 12]), BLANK, [eos], 1.0, active=torch.tensor([True, False])
    )
    llm = torch.randn(2, V + 1)
    out = scorer(torch.zeros(2, 0, dtype=torch.long), llm)
    assert torch.equal(out[1], llm[1]) and int(out[0].argmax()) == 2
    ended = scorer(torch.tensor([[2], [eos]]), llm)  # row 0 continues "2", row 1 has ended
    assert torch.equal(ended[1], llm[1])


def test_a_beam_on_a_token_ctc_ruled_out_stays_dead():
    """Beam *sampling* can pick a token scored -inf; its beam has no CTC state and must not crash or revive."""
    eos = V
    scorer = CTCPrefixScorer(_peaky([2]), torch.tensor([12]), BLANK, [eos], weight=1.0, candidates=2, num_beams=2)
    llm = torch.randn(2, V + 1)
    first = scorer(torch.zeros(2, 0, dtype=torch.long), llm)
    assert torch.isinf(first[0, 5]) and first[0, 5] < 0  # 5: ruled out, never scored
    out = scorer(torch.tensor([[2], [5]]), llm)  # beam 1 went on with the ruled-out 5
    assert torch.isneginf(out[1]).all()
    assert int(out[0].argmax()) == eos  # beam 0 is scored as before: "2" heard, then the end


def test_per_row_log_probs_joins_a_recordings_windows():
    logits = torch.randn(3, 4, V)  # windows: item 0 has two, item 1 one
    log_probs, lengths, active = per_row_log_probs(logits, torch.tensor([4, 2, 3]), torch.tensor([2, 1]), None, rows=2)
    assert lengths.tolist() == [6, 3] and active.tolist() == [True, True]
    assert torch.allclose(log_probs[0, 4:6], logits[1, :2].log_softmax(-1))
    _, _, active = per_row_log_probs(logits, torch.tensor([4, 2, 3]), None, torch.tensor([3, 0]), rows=2)
    assert active.tolist() == [False, False]


def test_blank_penalty_moves_mass_from_the_blank_to_the_labels():
    torch.manual_seed(3)
    logp = torch.randn(2, T, V).log_softmax(-1)
    assert with_blank_penalty(logp, BLANK, 0.0) is logp
    shifted = with_blank_penalty(logp, BLANK, 1.5)
    assert torch.allclose(shifted.exp().sum(-1), torch.ones(2, T))  # still distributions
    assert (shifted[..., BLANK] < logp[..., BLANK]).all() and (shifted[..., 1:] > logp[..., 1:]).all()
    ratio = (shifted[..., 2] - shifted[..., 1]) - (logp[..., 2] - logp[..., 1])  # labels keep their odds
    assert torch.allclose(ratio, torch.zeros_like(ratio), atol=1e-5)


def test_blank_penalty_lets_a_faint_token_be_heard():
    """A token CTC gives 10 % at one frame (blank 90 %): the LLM's end wins unpenalized, the token with a penalty."""
    eos = V
    logits = torch.full((1, 5, V), -20.0)
    logits[0, :, BLANK] = 0.0
    logits[0, 2, 3] = float(torch.tensor(0.1 / 0.9).log())
    logp = logits.log_softmax(-1)
    llm = torch.zeros(3, V + 1)
    llm[:, eos] = 1.0  # the LLM mildly prefers to stop
    plain = CTCPrefixScorer(logp, torch.tensor([5]), BLANK, [eos], weight=0.5, candidates=V + 1)
    penalized = CTCPrefixScorer(logp, torch.tensor([5]), BLANK, [eos], weight=0.5, candidates=V + 1, blank_penalty=4.0)
    assert _greedy(plain, llm, 3, eos) == [eos]
    assert _greedy(penalized, llm, 3, eos) == [3, eos]


def test_length_bonus_lengthens_the_answer_by_the_bonus_alone():
    eos = V
    logp = _peaky([2, 4])
    llm = torch.zeros(4, V + 1)
    llm[1:, eos] = 20.0  # the LLM wants to stop after one token, where CTC heard two
    scorer = CTCPrefixScorer(logp, torch.tensor([12]), BLANK, [eos], weight=0.5, candidates=3)
    assert _greedy(scorer, llm, 4, eos) == [2, eos]
    # the bonus outweighs the LLM where CTC hears more, not where CTC is sure that nothing follows "2 4"
    scorer = CTCPrefixScorer(logp, torch.tensor([12]), BLANK, [eos], weight=0.5, candidates=3, length_bonus=4.0)
    assert _greedy(scorer, llm, 4, eos) == [2, 4, eos]


def test_weight_must_be_in_range():
    with pytest.raises(ValueError, match="ctc_weight"):
        CTCPrefixScorer(_peaky([1]), torch.tensor([12]), BLANK, [V], weight=0.0)


def test_an_answer_ctc_heard_nothing_of_ends_before_it_starts():
    """Long silence with a little non-blank mass on every frame: the words' prefix scores beat the empty answer's
    one all-blank path, so without `silent` the LLM's invention goes through; with it the answer is empty."""
    eos, frames = V, 200
    logp = torch.full((1, frames, V), 0.02).index_fill(2, torch.tensor([BLANK]), 0.9).log()  # (1, T, V)
    logp = logp.log_softmax(-1)
    lengths = torch.tensor([frames])
    assert heard_nothing(logp, lengths, BLANK).tolist() == [True]
    assert heard_nothing(_peaky([2]), torch.tensor([12]), BLANK).tolist() == [False]
    llm = torch.full((4, V + 1), -20.0)
    llm[:, 3], llm[3, eos] = 0.0, 0.0  # the LLM wants "3 3 3" then the end
    plain = CTCPrefixScorer(logp, lengths, BLANK, [eos], weight=0.5, candidates=2)
    assert _greedy(plain, llm, 4, eos)[:3] == [3, 3, 3]
    quiet = CTCPrefixScorer(logp, lengths, BLANK, [eos], 0.5, candidates=2, silent=heard_nothing(logp, lengths, BLANK))
    assert _greedy(quiet, llm, 4, eos) == [eos]


# ---- through the Pipeline (the tiny reference checkpoint: random weights, so only invariances are asserted) ----


@pytest.mark.parametrize("beams", [1, 3])
def test_pipeline_joint_decoding_is_batch_invariant(pipe, clips, beams):
    options = {"greedy": True, "max_new_tokens": 6, "ctc_weight": 0.5, "num_beams": beams}
    items = [{"audio": clips[1], "prompt": "Transcribe."}, {"audio": clips[0], "prompt": "Transcribe."}]
    batched = pipe.generate_batch(items, **options)
    alone = [pipe.generate(i["audio"], i["prompt"], **options) for i in items]
    assert [r.error for r in batched] == [None, None]
    assert [r.text for r in batched] == [r.text for r in alone]


def test_ctc_weight_needs_a_soundwave_model():
    from types import SimpleNamespace

    from soundwave.decoding import DecodeContext, active_rescorers
    from soundwave.decoding.plugins import JointCTC
    from soundwave.options import GenerationConfig

    no_ctc = SimpleNamespace(ctc_logits=None)  # what a SpeechLLM's audio encoding amounts to here
    context = DecodeContext(SimpleNamespace(), None, {"input_ids": torch.zeros(1, 1)}, no_ctc, 0)
    with pytest.raises(SoundwaveError, match="ctc_weight needs a Soundwave model"):
        JointCTC().logits_processors(context, GenerationConfig(ctc_weight=0.5))
    assert active_rescorers(GenerationConfig()) == []  # off by default: nothing asks for CTC


def test_joint_decoding_answers_no_longer_than_the_audio_s_ctc_frames():
    """A CTC path emits at most one token per frame: joint decoding caps max_new_tokens there (its cost bound)."""
    from types import SimpleNamespace

    from soundwave.decoding import DecodeContext
    from soundwave.decoding.plugins import ANSWER_SLACK, JointCTC
    from soundwave.options import GenerationConfig

    logits = torch.zeros(2, 30, 5)  # (W, T, V): two windows of 30 frames
    audio = SimpleNamespace(ctc_logits=logits, ctc_lengths=torch.tensor([12, 30]))
    model = SimpleNamespace(align_adapter=None)
    batch = {"input_ids": torch.zeros(2, 3, dtype=torch.long)}
    context = DecodeContext(model, None, batch, audio, 0)
    config = GenerationConfig(ctc_weight=0.5, max_new_tokens=512)
    assert JointCTC().max_new_tokens(context, config) == 30 + ANSWER_SLACK  # the longer row's frames
    assert JointCTC().max_new_tokens(context, config.with_overrides(max_new_tokens=7)) == 7
    text_row = DecodeContext(model, None, batch | {"audios_per_row": torch.tensor([2, 0])}, audio, 0)
    assert JointCTC().max_new_tokens(text_row, config) == 512  # a row CTC does not score: the LLM's own limit


def test_items_index_the_log_probs_instead_of_copying_them():
    """Three prefixes of two items, read through `items`, score as with each item's log-probs copied per row."""
    torch.manual_seed(2)
    logp = torch.randn(2, T, V).log_softmax(-1)
    items, lengths = torch.tensor([1, 0, 1]), torch.tensor([T, T - 2, T])
    r_prefix = empty_prefix(logp[items], BLANK)
    last, empty = torch.tensor([-1, -1, -1]), torch.tensor([True, True, True])
    candidates = torch.tensor([[1, 2], [3, 4], [5, 1]])
    indexed = prefix_extend(logp, lengths, r_prefix, last, empty, candidates, BLANK, items)
    copied = prefix_extend(logp[items], lengths, r_prefix, last, empty, candidates, BLANK)
    assert torch.equal(indexed[0], copied[0]) and torch.equal(indexed[1], copied[1])
