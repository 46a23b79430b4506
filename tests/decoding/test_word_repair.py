"""Word repair after decoding: non-words are replaced by the nearby lexicon word whose sentence the spelling CTC
(and a text LM) scores best; lexicon words stay, capitals and punctuation stay, and the Pipeline applies it per
row, the same in a batch as alone."""

import math

import pytest
import torch

from soundwave.decoding.lexicon import Lexicon
from soundwave.decoding.word_repair import (
    SpeechLM,
    TextLM,
    cached,
    is_suspect,
    nearby_words,
    repair_best,
    repair_words,
    respell,
    sentence_scorer,
    spelling_log_likelihood,
)
from soundwave.errors import SoundwaveError
from soundwave.model.spelling import BLANK, CHARSET, spell

LEXICON = Lexicon(
    ["the", "courage", "carriage", "garage", "cat", "cot", "coat", "a", "he", "sat", "satisfied", "forestalled"]
)


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


def test_a_word_split_in_three_joins_only_with_a_span_of_three():
    score = sentence_scorer(heard("he forestalled the cat"), None, 0.0)
    assert repair_words("he for est alled the cat", score, LEXICON) == "he forestalled the cat"
    assert repair_words("he for est alled the cat", score, LEXICON, span=2) != "he forestalled the cat"


def test_lexicon_words_change_only_with_real_distance_and_by_the_margin():
    score = sentence_scorer(heard("a cat"), None, 0.0)  # the audio clearly says "cat"; decoding wrote "cot"
    assert repair_words("a cot", score, LEXICON) == "a cot"
    assert repair_words("a cot", score, LEXICON, real_distance=1) == "a cat"
    assert repair_words("a cot", score, LEXICON, real_distance=1, real_margin=1e6) == "a cot"


def test_a_pool_shortlisted_by_the_audio_finds_the_word_a_small_limit_cuts():
    # "leel" is 1 edit from all these; alphabetically "level" is last, past a limit of 2
    lexicon = Lexicon(["a", "eel", "feel", "heel", "level"])
    score = sentence_scorer(heard("a level"), None, 0.0)
    assert repair_words("a leel", score, lexicon, max_distance=1, candidates=2) != "a level"
    assert repair_words("a leel", score, lexicon, max_distance=1, candidates=2, pool=8) == "a level"


def test_the_best_repaired_beam_wins_even_if_it_was_not_the_best_beam():
    score = sentence_scorer(heard("a cat"), None, 0.0)
    assert repair_best(["a cot", "a cet"], score, LEXICON) == (1, "a cat")
    assert repair_best(["a cot"], score, LEXICON) == (0, "a cot")


def test_cached_scores_each_sentence_once():
    calls = []
    score = cached(lambda sentences: calls.append(list(sentences)) or torch.arange(len(sentences), dtype=torch.float))
    assert score(["a", "b", "a"]).tolist() == [0.0, 1.0, 0.0]
    assert score(["b", "c"]).tolist() == [1.0, 0.0]
    assert calls == [["a", "b"], ["c"]]


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


@pytest.mark.parametrize("shared_read_min", [0, 10_000])
def test_text_lm_reading_shared_words_once_equals_reading_each_sentence_whole(
    tmp_path_factory, monkeypatch, shared_read_min
):
    """Sentences that share their first words (as repair's candidates do) score as a plain forward of each, whether
    the shared words get a pass of their own or not."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from soundwave.decoding import word_repair

    monkeypatch.setattr(word_repair, "SHARED_READ_MIN", shared_read_min)

    from tests.model.test_builder import base_dir

    root = tmp_path_factory.getbasetemp() / "tiny-bases"
    llm = AutoModelForCausalLM.from_pretrained(str(base_dir(root, "llm"))).eval()
    tokenizer = AutoTokenizer.from_pretrained(str(base_dir(root, "llm")))
    sentences = ["the cat sat on the mat", "the cat sat on a mat today", "the cat sat"]
    start = tokenizer.bos_token_id if tokenizer.bos_token_id is not None else tokenizer.eos_token_id
    whole = []
    for sentence in sentences:
        ids = torch.tensor([[start, *tokenizer(sentence, add_special_tokens=False).input_ids]])
        with torch.no_grad():
            log_probs = llm(input_ids=ids).logits[0, :-1].log_softmax(-1)  # (L, V): step j predicts token j + 1
        whole.append(log_probs.gather(1, ids[0, 1:, None]).sum())
    torch.testing.assert_close(TextLM(llm, tokenizer)(sentences), torch.stack(whole), rtol=1e-4, atol=1e-4)


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
    options["word_repair_speech"] = 0.5  # the speech LLM scores each row on its own prompt and audio

    model, _, _ = build_model(
        encoder=str(base_dir(root, "whisper")), llm=str(base_dir(root, "llm")), mode="paper", spelling_head=True
    )
    pipe = Pipeline.from_model(model.eval(), tokenizer, extractor)
    pipe._decoding_cache["lexicon"] = LEXICON
    batched = pipe.generate_batch(items, **options)
    alone = [pipe.generate_batch([item], **options)[0] for item in items]
    plain = pipe.generate_batch(items, **(options | {"word_repair": 0.0, "word_repair_speech": 0.0}))
    assert [r.error for r in batched] == [None, None]
    assert [r.text for r in batched] == [r.text for r in alone]
    for repaired, before in zip(batched, plain, strict=True):  # only non-words change, into lexicon words
        for new, old in zip(repaired.text.split(), before.text.split(), strict=True):
            assert new == old or (not LEXICON.is_word(old.lower().strip(".,!?")) and LEXICON.is_word(new.lower()))

    beams = options | {"num_beams": 3, "repair_nbest": 3}  # each row's 3 best beams repaired, the best kept
    nbest = pipe.generate_batch(items, **beams)
    assert [r.text for r in nbest] == [pipe.generate_batch([item], **beams)[0].text for item in items]
    assert [r.error for r in nbest] == [None, None] and all(r.output_tokens >= 1 for r in nbest)

    without, _, _ = build_model(encoder=str(base_dir(root, "whisper")), llm=str(base_dir(root, "llm")), mode="paper")
    with pytest.raises(SoundwaveError, match="spelling head"):
        Pipeline.from_model(without.eval(), tokenizer, extractor).generate_batch(
            items[:1], **(options | {"ctc_weight": 0.3, "spelling_weight": 0.0})
        )


def test_speech_lm_scores_an_answer_as_the_model_s_own_loss_does(tmp_path_factory):
    """SpeechLM(sentence) on a row's spliced prompt = -(summed cross-entropy) of the Soundwave forward with the
    sentence and the end of turn as labels; the same alone as in a padded batch."""
    import numpy as np
    from transformers import AutoTokenizer, WhisperFeatureExtractor

    from soundwave.decoding.plugins import prompt_embeds
    from soundwave.inference.pipeline import Item, Pipeline
    from soundwave.model.builder import build_model
    from soundwave.options import GenerationConfig
    from tests.model.test_builder import MEL_WINDOW, base_dir

    root = tmp_path_factory.getbasetemp() / "tiny-bases"
    tokenizer = AutoTokenizer.from_pretrained(str(base_dir(root, "llm")))
    tokenizer.add_special_tokens({"additional_special_tokens": ["<audio_patch>"]})
    extractor = WhisperFeatureExtractor(feature_size=80, chunk_length=MEL_WINDOW // 100)
    model, _, _ = build_model(
        encoder=str(base_dir(root, "whisper")), llm=str(base_dir(root, "llm")), mode="paper", spelling_head=True
    )
    pipe = Pipeline.from_model(model.eval(), tokenizer, extractor)
    wave = np.sin(np.arange(16000, dtype=np.float32) / 7)
    config = GenerationConfig(do_sample=False, max_new_tokens=8)
    with torch.inference_mode():
        batch = pipe._inputs([(0, Item(wave, "Transcribe."), wave)], config)
        audio = pipe._check_context(batch, config, [(0, None, wave)])
        embeds, keys = prompt_embeds(pipe._decode_context(batch, audio))[0]
        assert not bool(keys.all())  # the tiny Llama masks its <|eot_id|> keys, as the release does
        speech_lm = SpeechLM(model.llm, tokenizer, embeds, pipe.eos_token_id, keys)
        sentences = ["a cat", "the courage of a cat in the garage"]
        scores = speech_lm(sentences)
        torch.testing.assert_close(scores, torch.cat([speech_lm([s]) for s in sentences]), rtol=1e-4, atol=1e-4)
        for sentence, value in zip(sentences, scores, strict=True):
            answer = [*tokenizer(sentence, add_special_tokens=False).input_ids, pipe.eos_token_id]
            prompt = batch["input_ids"][0, batch["attention_mask"][0].bool()].tolist()
            ids = torch.tensor([prompt + answer])
            labels = torch.tensor([[-100] * len(prompt) + answer])
            out = model(input_ids=ids, audios=batch["audios"], audio_lengths=batch.get("audio_lengths"), labels=labels)
            torch.testing.assert_close(value, -out.ce_loss * len(answer), rtol=1e-3, atol=1e-3)


def test_repair_work_per_clip_is_bounded():
    """However many non-words a transcript holds, at most `budget` of them are tried (the n-best share it)."""
    from soundwave.decoding import word_repair

    calls: list[int] = []

    def score(sentences: list[str]) -> torch.Tensor:  # counts the sentences scored; prefers "cat"
        calls.append(len(sentences))
        return torch.tensor([float(s.count("cat")) for s in sentences])

    score.acoustic = score
    text = " ".join(["cet"] * 50)
    assert repair_words(text, score, LEXICON, merge=False, budget=3).split() == ["cat"] * 3 + ["cet"] * 47
    assert len(calls) == 3
    calls.clear()
    best, repaired = repair_best([text] * 4, score, LEXICON, merge=False)
    per_text = word_repair.MAX_REPAIRED_WORDS // 4
    assert repaired.split().count("cat") == per_text and len(calls) == 4 * per_text + 1  # + the final comparison


def test_scores_after_shared_words_rank_as_whole_scores_across_calls(tmp_path_factory):
    """`score_after` (the kept prefix extended, then cut back) differs from whole-row `score` by one constant per
    call: the shared words' log-prob."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from tests.model.test_builder import base_dir

    root = tmp_path_factory.getbasetemp() / "tiny-bases"
    llm = AutoModelForCausalLM.from_pretrained(str(base_dir(root, "llm"))).eval()
    tokenizer = AutoTokenizer.from_pretrained(str(base_dir(root, "llm")))
    lm = TextLM(llm, tokenizer)
    calls = [  # the prefix grows, grows again, then is cut back and the rows share nothing
        ["the cat sat on the mat", "the cat sat on a mat", "the cat sat"],
        ["the cat sat on a mat today", "the cat sat on a hat today"],
        ["the cat ran", "the cat ran off"],
        ["a dog", "the garage"],
    ]
    for sentences in calls:
        whole, after = lm(sentences), lm.heads(sentences, complete=True)
        torch.testing.assert_close(whole - after, (whole - after)[:1].expand_as(whole), rtol=1e-4, atol=1e-4)
    assert lm.context.prefix[0] == []  # the last rows share no token: the prefix was cut back to the context


def test_repair_reading_a_window_past_each_word_keeps_a_whole_sentence_choice():
    """A local window scores as the whole sentence when the LM's preference lies inside it; the LM reads fewer
    words per candidate."""
    log_probs = heard("a cot sat", {3: {"a": 0.5, "o": 0.5}})  # "cat" or "cot", evenly

    class Prefers:  # an LM that likes "cat" and records what it read
        def __init__(self):
            self.read = []

        def __call__(self, sentences):
            self.read += sentences
            return torch.tensor([5.0 if "cat" in s else 0.0 for s in sentences])

        def heads(self, sentences, complete):
            return self(sentences)

    whole, local = Prefers(), Prefers()
    assert repair_words("a cet sat", sentence_scorer(log_probs, whole, 1.0), LEXICON, merge=False) == "a cat sat"
    local_repair = repair_words("a cet sat", sentence_scorer(log_probs, local, 1.0), LEXICON, merge=False, window=0)
    assert local_repair == "a cat sat"
    assert max(len(s.split()) for s in local.read) == 2 < max(len(s.split()) for s in whole.read)
