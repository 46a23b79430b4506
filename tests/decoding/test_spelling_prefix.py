"""Spelling CTC in joint decoding: token spellings, multi-label prefix extension, candidates, the joint scorer."""

from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from transformers import AutoTokenizer

from soundwave.decoding.ctc_prefix import CTCPrefixScorer, empty_prefix, full_score
from soundwave.decoding.spelling_prefix import SpellingScorer, TokenSpeller, extend_by_labels, token_labels
from soundwave.model.spelling import BLANK, CHARSET, spell, spelling_text

MINI = Path(__file__).parents[2] / "soundwave" / "assets" / "soundwave-mini"
C = 1 + len(CHARSET)


@pytest.fixture(scope="module")
def tokenizer():
    return AutoTokenizer.from_pretrained(str(MINI))


@pytest.fixture(scope="module")
def speller(tokenizer):
    return TokenSpeller(tokenizer, len(tokenizer) + 1)


def _spell_tokens(speller, ids):
    labels, pending = [], False
    for token in ids:
        added, pending = token_labels(speller.spellings[token], bool(labels), pending)
        labels += added
    return labels


@pytest.mark.parametrize(
    "text",
    ["He who wonders discovers, don't you?", "Well-known 1990s names.", "  A  café, by the sea.  ", "Hi!"],
)
def test_token_spellings_join_to_the_transcripts_spelling(tokenizer, speller, text):
    ids = tokenizer(text, add_special_tokens=False).input_ids
    assert _spell_tokens(speller, ids) == spell(text)


def test_spelling_text_keeps_letters_apostrophes_and_word_breaks():
    assert spelling_text("Well-known, 1990s!") == "well known s"
    assert spelling_text("Café au lait") == "cafe au lait"
    assert spell(" Don't ") == spell("don't") and spell("") == []


def test_special_tokens_spell_nothing(tokenizer, speller):
    assert speller.spellings[tokenizer.eos_token_id] == "" and speller.spellings[len(tokenizer)] == ""


def _random_logp(frames=14, seed=0):
    torch.manual_seed(seed)
    return torch.randn(1, frames, C).log_softmax(-1)


def test_extending_by_a_whole_spelling_gives_its_ctc_probability():
    logp, lengths = _random_logp(), torch.tensor([14])
    target = spell("to too")  # repeated letters and a space
    r0 = empty_prefix(logp, BLANK)
    state = (r0, torch.zeros(1), torch.tensor([-1]), torch.tensor([True]))
    r, psi, last, empty = extend_by_labels(logp, lengths, *state, [target[:2]])  # in two pieces, as tokens would
    r, psi, last, empty = extend_by_labels(logp, lengths, r, psi, last, empty, [target[2:]])
    loss = F.ctc_loss(logp.transpose(0, 1), torch.tensor([target]), lengths, torch.tensor([len(target)]), BLANK, "sum")
    assert full_score(r, lengths)[0].item() == pytest.approx(-loss.item(), abs=1e-4)
    assert int(last[0]) == target[-1] and not bool(empty[0])


def test_a_token_with_no_letters_leaves_the_state_alone():
    logp, lengths = _random_logp(seed=1), torch.tensor([14])
    r0 = empty_prefix(logp, BLANK).repeat(2, 1, 1)
    r, psi, _, _ = extend_by_labels(
        logp.repeat(2, 1, 1),
        lengths.repeat(2),
        r0,
        torch.zeros(2),
        torch.tensor([-1, -1]),
        torch.ones(2, dtype=bool),
        [[], spell("a")],
    )
    assert torch.equal(r[0], r0[0]) and psi[0].item() == 0.0 and psi[1].item() < 0.0


def _peaky(text, frames=40):
    """Spelling log-probs that are sure of `text`: one frame per label, blanks between."""
    logits = torch.full((1, frames, C), -8.0)
    logits[0, :, BLANK] = 8.0
    for i, label in enumerate(spell(text)):
        logits[0, 2 * i + 1, BLANK], logits[0, 2 * i + 1, label] = -8.0, 8.0
    return logits.log_softmax(-1)


def test_candidates_spell_what_was_heard_after_the_prefix(tokenizer, speller):
    scorer = SpellingScorer(_peaky("he who wonders"), torch.tensor([40]), speller)
    assert scorer.heard[0] == "he who wonders"
    prefix = tuple(tokenizer("He who", add_special_tokens=False).input_ids)
    scorer.states = {}
    ids = torch.tensor([list(prefix)])
    scorer.score([0], [()], ids[:, :1])  # builds the state of "He"
    scorer.score([0], [prefix[:1]], ids[:, 1:2])  # ... and of "He who"
    found = [tokenizer.decode([t]) for t in scorer.candidates(0, prefix)]
    assert " wonders" in found


def test_joint_decoding_with_spelling_says_a_word_the_llm_only_half_believes(tokenizer, speller):
    """The LLM prefers " winners"; the audio spells "wonders"; token CTC heard nothing useful (uniform)."""
    target = tokenizer(" wonders", add_special_tokens=False).input_ids
    rival = tokenizer(" winners", add_special_tokens=False).input_ids
    assert len(target) == 1 and len(rival) == 1
    vocab, eos = len(tokenizer) + 1, tokenizer.eos_token_id
    spelling = SpellingScorer(_peaky("wonders"), torch.tensor([40]), speller)
    uniform = torch.zeros(1, 40, vocab).log_softmax(-1)
    scorer = CTCPrefixScorer(
        uniform, torch.tensor([40]), vocab - 1, [eos], weight=0.0, candidates=4, spelling=spelling, spelling_weight=0.5
    )
    llm = torch.full((1, vocab), -10.0)
    llm[0, rival[0]], llm[0, target[0]] = 0.0, -1.0
    assert int(scorer(torch.zeros(1, 0, dtype=torch.long), llm).argmax()) == target[0]
    llm_alone = CTCPrefixScorer(uniform, torch.tensor([40]), vocab - 1, [eos], weight=0.01, candidates=4)
    assert int(llm_alone(torch.zeros(1, 0, dtype=torch.long), llm).argmax()) == rival[0]


def test_spelling_weight_needs_a_spelling_scorer():
    with pytest.raises(ValueError, match="spelling head"):
        CTCPrefixScorer(torch.zeros(1, 4, 5), torch.tensor([4]), 0, [4], weight=0.3, spelling_weight=0.3)
    with pytest.raises(ValueError, match="sum"):
        CTCPrefixScorer(torch.zeros(1, 4, 5), torch.tensor([4]), 0, [4], weight=0.0)


def test_a_token_that_spells_nothing_scores_as_the_spelling_ending_there(tokenizer, speller):
    """Free, punctuation would win wherever letters are uncertain and postpone the words forever."""
    scorer = SpellingScorer(_peaky("go home"), torch.tensor([40]), speller)
    ids = {text: tokenizer(text, add_special_tokens=False).input_ids[0] for text in ("go", ".", " home")}
    cands = torch.tensor([[ids["."], ids[" home"]]])
    scorer.score([0], [()], torch.tensor([[ids["go"]]]))
    delta, end = scorer.score([0], [(ids["go"],)], cands)
    assert delta[0, 0].item() == pytest.approx(end[0].item()) and end[0].item() < -10  # "go." with "home" to come
    assert delta[0, 1].item() > -1e-3
    delta, end = scorer.score([0], [(ids["go"], ids[" home"])], torch.tensor([[ids["."]]]))
    assert delta[0, 0].item() == pytest.approx(end[0].item()) and end[0].item() > -1e-3  # at the end: free


def test_a_lexicon_penalizes_a_spelling_that_starts_no_word(tokenizer, speller):
    from soundwave.decoding.lexicon import Lexicon

    token = tokenizer(" wonders", add_special_tokens=False).input_ids
    cands = torch.tensor([token])
    plain = SpellingScorer(_peaky("wonders"), torch.tensor([40]), speller)
    strict = SpellingScorer(_peaky("wonders"), torch.tensor([40]), speller, Lexicon(["winners"]), lexicon_penalty=50)
    free, _ = plain.score([0], [()], cands)
    penalized, end = strict.score([0], [()], cands)
    assert free[0, 0].item() > -1e-3 and penalized[0, 0].item() == pytest.approx(free[0, 0].item() - 50, abs=1e-3)
    assert end[0].item() < -50  # ending before any word: "" is no word
