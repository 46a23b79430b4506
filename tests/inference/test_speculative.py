"""Speculative greedy decoding with the CTC draft: the ids of plain greedy decoding, in fewer LLM passes."""

import numpy as np
import pytest
import torch

from soundwave.model.speculative import MAX_PAUSE, WINDOW, adapt_draft, collapse_ctc, draft_after


def test_collapse_ctc_merges_repeats_and_drops_blanks():
    assert collapse_ctc(torch.tensor([0, 5, 5, 0, 5, 7, 7, 0, 9]), 8, blank_id=0) == [5, 5, 7]


@pytest.mark.parametrize(
    ("generated", "cursor", "expected"),
    [
        ([], 0, [1, 2, 3, 4]),  # nothing yet: the draft from its start
        ([1], 0, [2, 3, 4]),  # the draft's next token where it was expected
        ([1, 2], 0, [3, 4]),  # the tail found anywhere: what follows it
        ([1, 2, 99], 0, [3, 4]),  # a token the draft never has (punctuation) is skipped
        ([7], 0, []),  # no match: no draft
        ([5, 3], 0, []),  # a lone token away from where the draft was expected: no draft
        ([2, 3, 4], 0, []),  # the draft's end
    ],
)
def test_draft_after_finds_the_generated_tail_in_the_draft(generated, cursor, expected):
    ahead, _ = draft_after(generated, [1, 2, 3, 4], cursor)
    assert ahead == expected


def test_draft_after_reads_a_repeated_word_left_to_right():
    draft = [5, 6, 5, 8]  # "the cat the dog"
    ahead, cursor = draft_after([5], draft, 0)
    assert ahead == [6, 5, 8] and cursor == 1
    ahead, cursor = draft_after([5, 6], draft, cursor)
    assert ahead == [5, 8] and cursor == 2
    ahead, cursor = draft_after([5, 6, 5], draft, cursor)
    assert ahead == [8]
    assert draft_after([5, 6, 5, 8, 5, 6], draft, 4)[0] == [5, 8]  # past the end: the first match again


def test_adapt_draft_widens_narrows_and_pauses_after_refused_single_tokens():
    assert adapt_draft(4, 0, 1, fed=4, agreed=4) == (6, 0, 1)  # all agreed: wider
    assert adapt_draft(WINDOW, 0, 1, fed=WINDOW, agreed=WINDOW)[0] == WINDOW
    assert adapt_draft(4, 0, 1, fed=4, agreed=2) == (3, 0, 1)  # some refused: narrower
    width, paused, pause, plain = 1, 0, 1, []
    for _ in range(6):  # an LLM that refuses every one-token draft
        width, paused, pause = adapt_draft(width, paused, pause, fed=1, agreed=0)
        plain.append(paused)
        while paused:  # the plain passes of the pause
            width, paused, pause = adapt_draft(width, paused, pause, fed=0, agreed=0)
    assert plain == [1, 2, 4, 8, 8, 8] and MAX_PAUSE == 8  # drafted tokens: 6 in 6 + 31 passes, not 37
    assert adapt_draft(1, 0, 8, fed=1, agreed=1) == (3, 0, 1)  # an accepted draft ends the pauses


def _inputs(pipe, clips, prompt="Transcribe."):
    from soundwave.audio import load_audio
    from soundwave.inference.pipeline import Item
    from soundwave.options import GenerationConfig

    chunk = [(i, Item(clip, prompt), load_audio(clip)) for i, clip in enumerate(clips)]
    return pipe._inputs(chunk, GenerationConfig())


@pytest.mark.parametrize("penalty", [1.0, 1.3])
def test_a_perfect_draft_gives_plain_greedy_ids_in_far_fewer_passes(pipe, clips, penalty):
    """Drafted with plain greedy's own answer (a left-padded batch of 3 rows), the speculative loop returns the same
    ids and needs about one pass per WINDOW + 1 tokens once the window has grown; a wrong draft returns them too."""
    model = pipe.model
    batch = _inputs(pipe, [*clips, clips[0]])
    options = dict(do_sample=False, max_new_tokens=24, repetition_penalty=penalty, eos_token_id=pipe.eos_token_id)
    plain = model.generate(**batch, **options)  # (B, S + N)
    answers = [ids[batch["input_ids"].shape[1] :].tolist() for ids in plain]
    fast = model.generate(**batch, draft_ids=answers, return_dict_in_generate=True, **options)
    assert torch.equal(fast.sequences, plain)
    steps = plain.shape[1] - batch["input_ids"].shape[1]
    assert fast.llm_forward_passes <= 4 + steps // (WINDOW + 1)  # prefill; passes of 1, 3, 5, 7 drafts; then WINDOW
    wrong = [[(t + 1) % 50 for t in answer] for answer in answers]
    assert torch.equal(model.generate(**batch, draft_ids=wrong, **options), plain)


def test_stop_strings_and_the_length_limit_end_where_plain_greedy_ends(pipe, clips):
    model = pipe.model
    batch = _inputs(pipe, clips)
    plain = model.generate(**batch, do_sample=False, max_new_tokens=12, eos_token_id=pipe.eos_token_id)
    answers = [ids[batch["input_ids"].shape[1] :].tolist() for ids in plain]
    stop = pipe.tokenizer.decode(answers[0][3:5])
    options = dict(do_sample=False, max_new_tokens=12, eos_token_id=pipe.eos_token_id)
    options |= dict(stop_strings=[stop], tokenizer=pipe.tokenizer)
    assert torch.equal(model.generate(**batch, draft_ids=answers, **options), model.generate(**batch, **options))


def test_pipeline_greedy_text_is_the_same_with_and_without_the_ctc_draft(pipe, clips):
    """Through the Pipeline (batched and one by one, with joint CTC scoring too): identical answers."""
    many = [*clips, clips[0]]
    for extra in ({}, {"ctc_weight": 0.5}):
        options = dict(greedy=True, max_new_tokens=12, **extra)
        plain = pipe.transcribe_batch(many, draft="none", **options)
        fast = pipe.transcribe_batch(many, draft="ctc", **options)
        alone = [pipe.transcribe(clip, draft="ctc", **options) for clip in clips]
        assert [r.text for r in fast] == [r.text for r in plain]
        assert [r.text for r in alone] == [r.text for r in plain[:2]]
        assert all(r.llm_forward_passes <= p.llm_forward_passes for r, p in zip(fast, plain, strict=True))


def test_greedy_and_sampled_requests_are_decoded_speculatively_beams_are_not():
    from transformers import GenerationConfig

    from soundwave.model.speculative import can_speculate

    greedy = dict(do_sample=False, max_new_tokens=8, eos_token_id=2, repetition_penalty=1.2)
    assert can_speculate(greedy) and can_speculate(greedy | {"stop_strings": ["."], "tokenizer": None})
    sampled = greedy | {"do_sample": True, "temperature": 0.2, "top_p": 0.9, "top_k": 40}
    assert can_speculate(sampled, GenerationConfig()) and can_speculate(sampled)
    assert not can_speculate(sampled, GenerationConfig(typical_p=0.5))  # a warper the loop does not reproduce
    assert not can_speculate(greedy | {"num_beams": 4}) and not can_speculate(greedy | {"num_return_sequences": 2})
    assert not can_speculate(greedy | {"streamer": object()})


def test_accept_or_resample_draws_each_token_with_its_probability_whatever_the_draft():
    from soundwave.model.speculative import accept_or_resample

    torch.manual_seed(0)
    probs = torch.tensor([0.5, 0.3, 0.15, 0.05, 0.0])
    rows = 200_000
    for drafted in (1, 0, 3, 4):  # a likely draft, the likeliest, an unlikely one, an impossible one
        tokens = accept_or_resample(probs.expand(rows, -1), torch.full((rows,), drafted), torch.ones(rows, dtype=bool))
        frequencies = torch.bincount(tokens, minlength=5) / rows
        assert torch.allclose(frequencies, probs, atol=0.005), (drafted, frequencies)
    certain = torch.tensor([[0.0, 1.0, 0.0, 0.0, 0.0]])
    assert accept_or_resample(certain, torch.tensor([1]), torch.tensor([True])).item() == 1
    no_draft = accept_or_resample(probs.expand(rows, -1), torch.full((rows,), 4), torch.zeros(rows, dtype=bool))
    assert torch.allclose(torch.bincount(no_draft, minlength=5) / rows, probs, atol=0.005)


def test_sampling_with_nothing_drafted_draws_what_generate_draws(pipe, clips):
    """Warpers in generate's order, one multinomial draw per token: seed for seed, generate's ids."""
    model = pipe.model
    batch = _inputs(pipe, clips)
    options = dict(do_sample=True, temperature=0.9, top_p=0.8, top_k=20, max_new_tokens=10)
    options |= dict(repetition_penalty=1.2, eos_token_id=pipe.eos_token_id)
    torch.manual_seed(3)
    plain = model.generate(**batch, **options)
    torch.manual_seed(3)
    fast = model.generate(**batch, draft_ids=[[], []], **options)
    assert torch.equal(fast, plain)


def test_sampling_at_a_low_temperature_with_a_perfect_draft_takes_it_in_few_passes(pipe, clips):
    model = pipe.model
    batch = _inputs(pipe, clips)
    greedy = dict(do_sample=False, max_new_tokens=16, eos_token_id=pipe.eos_token_id)
    plain = model.generate(**batch, **greedy)
    answers = [ids[batch["input_ids"].shape[1] :].tolist() for ids in plain]
    cold = greedy | {"do_sample": True, "temperature": 1e-6}  # this random model's top logits lie close
    fast = model.generate(**batch, draft_ids=answers, return_dict_in_generate=True, **cold)
    assert torch.equal(fast.sequences, plain)  # p(draft) ~ 1 at each position: every draft accepted
    assert fast.llm_forward_passes <= 4 + 16 // (WINDOW + 1)


def test_pipeline_sampling_uses_the_ctc_draft_and_seeds_reproduce(pipe, clips):
    options = dict(do_sample=True, temperature=0.7, top_p=0.9, max_new_tokens=12, seed=11, draft="ctc")
    first, again = pipe.transcribe_batch(clips, **options), pipe.transcribe_batch(clips, **options)
    assert [r.text for r in first] == [r.text for r in again]
    assert all(r.output_tokens > 0 for r in first)


def test_silence_drafts_nothing_and_decodes_plainly(pipe):
    silence = np.zeros(16000, dtype=np.float32)
    plain = pipe.transcribe(silence, greedy=True, max_new_tokens=8, draft="none")
    fast = pipe.transcribe(silence, greedy=True, max_new_tokens=8, draft="ctc")
    assert fast.text == plain.text


def test_a_text_only_greedy_question_drafts_nothing_and_answers_as_plainly(pipe):
    plain = pipe.generate(None, "Say hello.", greedy=True, max_new_tokens=6, draft="none")
    fast = pipe.generate(None, "Say hello.", greedy=True, max_new_tokens=6, draft="ctc")
    assert fast.text == plain.text and fast.llm_forward_passes == plain.llm_forward_passes
