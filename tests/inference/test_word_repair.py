"""Word repair after decoding: non-words are replaced by the nearby lexicon word whose sentence the spelling CTC
(and a text LM) scores best; lexicon words stay, capitals and punctuation stay, and the Pipeline applies it per
row, the same in a batch as alone."""

import math

import pytest
import torch

from soundwave.errors import SoundwaveError
from soundwave.inference.lexicon import Lexicon
from soundwave.inference.word_repair import (
    TextLM,
    is_suspect,
    nearby_words,
    repair_words,
    respell,
    sentence_scorer,
    spelling_log_likelihood,
)
from soundwave.model.spelling import BLANK, CHARSET, spell

LEXICON = Lexicon(["the", "courage", "carriage", "garage", "cat", "cot", "coat", "a", "he", "sat", "satisfied"])


def heard(text: str, confusions: dict[int, dict[str, float]] | None = None) -> torch.Tensor:
    """Spelling log-probs (T, C) of a clip that says `text`: each label on one frame, a blank between; at the
    label positions in `confusions` the probability is shared among the given letters."""
    frames = []
    for i, label in enumerate(spell(text)):
        probs = torch.full((1 + len(CHARSET),), 1e-4)
        for char, p in (confusions or {}).get(i, {CHARSET[label - 1]: 1.0}).items():
            probs[1 + CHARSET.index(char)] = p
        frames += [probs, torch.full_like(probs, 1e-4).index_fill(0, torch.tensor([BLANK]), 1.0)]
    probs = torch.stack(frames)  # (T, C)
    return (probs / probs.sum(dim=-1, keepdim=True)).log()


def test_nearby_words_are_the_closest_lexicon_words():
    assert nearby_words("corage", LEXICON)[0] == "courage"
    assert set(nearby_words("cet", LEXICON, max_distance=1)) == {"cat", "cot"}
    assert nearby_words("xyzzyq", LEXICON, max_distance=2) == []


@pytest.mark.parametrize(
    ("word", "spelled", "expected"),
    [("Corage,", "courage", "Courage,"), ("corage", "courage", "courage"), ('"cet."', "cat", '"cat."')],
)
def test_respell_keeps_the_capital_and_punctuation(word, spelled, expected):
    assert respell(word, spelled) == expected


def test_spelling_log_likelihood_prefers_what_was_said_and_rules_out_what_cannot_align():
    log_probs = heard("the cat")
    said, other, too_long = spelling_log_likelihood(log_probs, ["the cat", "the cot", "the cat " + "a" * 30])
    assert said > other and math.isclose(float(said), 0.0, abs_tol=0.05)
    assert too_long == -math.inf


def test_a_misspelled_word_becomes_the_word_the_audio_spells_best():
    # the audio: "the courage", with "ou" heard as "o" or "ou": greedy decoding wrote "corage"
    log_probs = heard("the courage", {5: {"o": 0.5, "u": 0.5}})
    score = sentence_scorer(log_probs, None, 0.0)
    assert repair_words("The corage.", score, LEXICON) == "The courage."
    assert repair_words("the garage", score, LEXICON) == "the garage"  # a word, even if a worse one, stays


def test_a_word_split_in_two_joins_when_the_audio_says_one_word():
    score = sentence_scorer(heard("he satisfied the cat"), None, 0.0)
    assert repair_words("He sat isfied the cat.", score, LEXICON) == "He satisfied the cat."
    assert repair_words("He sat isfied the cat.", score, LEXICON, merge=False) != "He satisfied the cat."
    said_two = sentence_scorer(heard("he sat a cat"), None, 0.0)
    assert repair_words("he sat a cat", said_two, LEXICON) == "he sat a cat"  # words, none suspect: untouched


@pytest.mark.parametrize(
    ("word", "suspect"), [("isfied", True), ("f", True), ("a", False), ("I", False), ("cat,", False)]
)
def test_suspect_words_are_non_words_and_lone_letters(word, suspect):
    assert is_suspect(word, LEXICON) is suspect


def test_the_text_lm_breaks_ties_between_equally_heard_words():
    log_probs = heard("a cot", {3: {"a": 0.5, "o": 0.5}})  # "cat" or "cot", evenly
    prefers_cat = lambda sentences: torch.tensor([5.0 if "cat" in s else 0.0 for s in sentences])  # noqa: E731
    assert repair_words("a cet", sentence_scorer(log_probs, prefers_cat, 1.0), LEXICON) == "a cat"
    assert repair_words("a cet", sentence_scorer(log_probs, prefers_cat, 0.0), LEXICON) in {"a cat", "a cot"}


def test_text_lm_scores_equal_alone_and_in_a_padded_batch(tmp_path_factory):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from tests.model.test_builder import base_dir

    root = tmp_path_factory.getbasetemp() / "tiny-bases"
    llm = AutoModelForCausalLM.from_pretrained(str(base_dir(root, "llm"))).eval()
    tokenizer = AutoTokenizer.from_pretrained(str(base_dir(root, "llm")))
    lm = TextLM(llm, tokenizer)
    sentences = ["a cat", "the courage of a cat in the garage"]
    batch = lm(sentences)
    alone = torch.cat([lm([s]) for s in sentences])
    torch.testing.assert_close(batch, alone, rtol=1e-4, atol=1e-4)
    assert batch.shape == (2,) and bool((batch < 0).all())


def test_pipeline_repairs_per_row_the_same_in_a_batch_as_alone(tmp_path_factory):
    import numpy as np
    from transformers import AutoTokenizer, WhisperFeatureExtractor

    from soundwave.inference.pipeline import Pipeline
    from soundwave.model.builder import build_model
    from tests.model.test_builder import MEL_WINDOW, base_dir

    root = tmp_path_factory.getbasetemp() / "tiny-bases"
    tokenizer = AutoTokenizer.from_pretrained(str(base_dir(root, "llm")))
    tokenizer.add_special_tokens({"additional_special_tokens": ["<audio_patch>"]})
    extractor = WhisperFeatureExtractor(feature_size=80, chunk_length=MEL_WINDOW // 100)
    waves = [np.sin(np.arange(n, dtype=np.float32) / k) for n, k in ((16000, 7), (9000, 3))]
    items = [{"audio": w, "prompt": "Transcribe.", "sampling_rate": 16000} for w in waves]
    options = {"greedy": True, "max_new_tokens": 6, "ctc_weight": 0.3, "spelling_weight": 0.3, "word_repair": 1.0}

    model, _, _ = build_model(
        encoder=str(base_dir(root, "whisper")), llm=str(base_dir(root, "llm")), mode="paper", spelling_head=True
    )
    pipe = Pipeline.from_model(model.eval(), tokenizer, extractor)
    pipe._lexicon = LEXICON
    batched = pipe.generate_batch(items, **options)
    alone = [pipe.generate_batch([item], **options)[0] for item in items]
    plain = pipe.generate_batch(items, **(options | {"word_repair": 0.0}))
    assert [r.error for r in batched] == [None, None]
    assert [r.text for r in batched] == [r.text for r in alone]
    for repaired, before in zip(batched, plain, strict=True):  # only non-words change, into lexicon words
        for new, old in zip(repaired.text.split(), before.text.split(), strict=True):
            assert new == old or (not LEXICON.is_word(old.lower().strip(".,!?")) and LEXICON.is_word(new.lower()))

    without, _, _ = build_model(encoder=str(base_dir(root, "whisper")), llm=str(base_dir(root, "llm")), mode="paper")
    with pytest.raises(SoundwaveError, match="spelling head"):
        Pipeline.from_model(without.eval(), tokenizer, extractor).generate_batch(
            items[:1], **(options | {"ctc_weight": 0.3, "spelling_weight": 0.0})
        )
