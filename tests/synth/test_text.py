"""Text sources: numbers in words, cleaning, fortunes, facts whose answers come from the sentence."""

from __future__ import annotations

import random
import re

import pytest

from soundwave.synth import facts, instructions, text
from soundwave.synth.tasks import draft, text_bucket

_FILLER = {"the", "a", "at", "in", "on", "by", "every", "is", "years", "old", "platform", "dollars", "next", "to"}


@pytest.mark.parametrize(
    ("n", "words"),
    [(0, "zero"), (13, "thirteen"), (40, "forty"), (42, "forty-two"), (105, "one hundred five"),
     (2024, "two thousand twenty-four"), (999_999, "nine hundred ninety-nine thousand nine hundred ninety-nine")],
)  # fmt: skip
def test_number_words(n: int, words: str) -> None:
    assert text.number_words(n) == words


def test_clock_words() -> None:
    assert text.clock_words(7, 30) == "seven thirty"
    assert text.clock_words(9, 0) == "nine o'clock"
    assert text.clock_words(6, 5) == "six oh five"


def test_speakable_spells_small_numbers_and_rejects_what_engines_read_differently() -> None:
    assert text.speakable("I have 3 cats  and 12 (small) dogs") == "I have three cats and twelve small dogs."
    assert text.speakable("\u201cHello,\u201d she said.") == "Hello, she said."
    for bad in ("It was 1984.", "Pi is 3.14.", "It costs $5.", "a <b> tag", "", "-- Author"):
        assert text.speakable(bad) is None, bad


def test_sources_are_deterministic_and_speakable() -> None:
    for name, source in text.SOURCES.items():
        first = [source(random.Random(5)) for _ in range(3)]
        assert first == [source(random.Random(5)) for _ in range(3)], name
        for _ in range(50):
            sentence = source(random.Random(_))
            assert text.speakable(sentence) == sentence, (name, sentence)


@pytest.mark.skipif(not text.fortunes(), reason="Debian fortunes not installed (apt-get install fortunes)")
def test_fortunes_are_short_and_clean() -> None:
    pool = text.fortunes()
    assert len(pool) > 1000
    assert all(4 <= len(f.split()) <= 20 and not re.search(r"\d|--|\t|\n", f) for f in pool)


def test_clean_example_keeps_the_quoted_words_only() -> None:
    assert text.clean_example("she sighed sadly") is None  # too short
    assert text.clean_example("the children played in the yard") == "The children played in the yard."
    assert text.clean_example("all the world's a stage -Shakespeare") == "All the world's a stage."
    assert text.clean_example("it cost $5 in 1984 or so") is None


def test_wordnet_examples_are_read_from_glosses(tmp_path, monkeypatch) -> None:
    (tmp_path / "data.verb").write_text(
        "  1 This software and database is being provided to you, the LICENSEE\n"
        '00001740 29 v 01 breathe 0 | draw air into the lungs; "I can breathe better when the air is clean"; '
        '"The patient is respiring"\n'
        '00002325 29 v 01 choke 0 | "She choked with emotion when she spoke about her husband"\n'
    )
    monkeypatch.setattr(text, "WORDNET_DIR", tmp_path)
    text.wordnet_examples.cache_clear()
    try:
        assert text.wordnet_examples() == (
            "I can breathe better when the air is clean.",
            "She choked with emotion when she spoke about her husband.",
            "The patient is respiring.",
        )
        assert text.wordnet(random.Random(0)) in text.wordnet_examples()
    finally:
        text.wordnet_examples.cache_clear()


def test_wordnet_definitions_are_the_glosses_before_their_examples(tmp_path, monkeypatch) -> None:
    (tmp_path / "data.noun").write_text(
        "  1 This software and database is being provided to you, the LICENSEE\n"
        '00406800 04 n 02 plication 0 | the act of folding in parallel folds; "a pleated skirt"\n'
        "00406939 04 n 01 hanuman 0 | Hindu god of the monkeys in the Ramayana\n"  # a proper name: dropped
        "00407090 04 n 01 jut 0 | a bump\n"  # too short: dropped
        "00407091 04 n 01 fold 0 | a group of people who adhere to a common faith and habitually attend a given "
        'church "the fold"\n'
    )
    monkeypatch.setattr(text, "WORDNET_DIR", tmp_path)
    text.wordnet_definitions.cache_clear()
    try:
        assert text.wordnet_definitions() == (
            "A group of people who adhere to a common faith and habitually attend a given church.",
            "The act of folding in parallel folds.",
        )
        assert text.definition(random.Random(0)) in text.wordnet_definitions()
    finally:
        text.wordnet_definitions.cache_clear()


def test_wide_fortunes_are_new_plain_and_clean(tmp_path, monkeypatch) -> None:
    (tmp_path / "fortunes").write_text("A penny saved is a penny earned.\n%\nHe who hesitates is lost, they say.\n")
    (tmp_path / "law").write_text(
        "A penny saved is a penny earned.\n%\n"  # already in the main pool
        "It is against the law to whistle under water.\n%\n"
        "I'm mentally OVERDRAWN! What's that up ahead?\n%\n"  # shouted
        "Our comedies are not to be laughed at. -Samuel Goldwyn\n"  # inline attribution
    )
    monkeypatch.setattr(text, "FORTUNE_DIR", tmp_path)
    monkeypatch.setattr(text, "FORTUNE_FILES", ("fortunes",))
    monkeypatch.setattr(text, "WIDE_FORTUNE_FILES", ("law",))
    text.fortunes.cache_clear()
    text.wide_fortunes.cache_clear()
    try:
        assert text.wide_fortunes() == ("It is against the law to whistle under water.",)
        assert text.wide_fortune(random.Random(0)) == "It is against the law to whistle under water."
    finally:
        text.fortunes.cache_clear()
        text.wide_fortunes.cache_clear()


@pytest.mark.skipif(not text.wordnet_definitions(), reason="WordNet not installed (apt-get install wordnet-base)")
def test_wordnet_definitions_pool_is_large_and_names_no_one() -> None:
    pool = text.wordnet_definitions()
    assert len(pool) > 50_000
    assert all(text.speakable(s) == s and not re.search(r"(?<=\w )[A-Z]", re.sub(r"\bI\b", "i", s)) for s in pool)


@pytest.mark.skipif(not text.wordnet_examples(), reason="WordNet not installed (apt-get install wordnet-base)")
def test_wordnet_pool_is_large_and_clean() -> None:
    pool = text.wordnet_examples()
    assert len(pool) > 20_000
    assert all(4 <= len(s.split()) <= 20 and s[0].isupper() and text.speakable(s) == s for s in pool)


def test_every_fact_question_is_answered_by_its_sentence() -> None:
    rng = random.Random(0)
    seen_templates = set()
    for _ in range(400):
        fact = facts.spoken_fact(rng)
        seen_templates.add(fact.template)
        assert fact.question.endswith("?") and "{" not in fact.sentence + fact.question + fact.answer
        content = [w for w in re.findall(r"[\w'-]+", fact.answer.lower()) if w not in _FILLER]
        sentence = fact.sentence.lower()
        assert all(w in sentence or w.removesuffix("'s") in sentence for w in content), fact
    assert seen_templates == set(range(len(facts.FACTS)))


def test_instruction_answers_are_right() -> None:
    rng = random.Random(1)
    for _ in range(200):
        prompt, answer = instructions.KINDS["arithmetic"](rng)
        a, op, b = re.search(r"(\d+) (plus|minus|times) (\d+)", prompt).groups()
        assert int(answer) == {"plus": int(a) + int(b), "minus": int(a) - int(b), "times": int(a) * int(b)}[op]
    kind, prompt, answer = instructions.instruction(random.Random(2))
    assert kind in instructions.KINDS and prompt and answer


def test_text_buckets_split_by_hash_and_draft_respects_them() -> None:
    buckets = [text_bucket(f"sentence {i}", 0.1) for i in range(2000)]
    assert 0.07 < buckets.count("valid") / 2000 < 0.13 and 0.07 < buckets.count("test") / 2000 < 0.13
    sources = {"everyday": 1.0, "fortune": 1.0, "words": 1.0}
    for bucket in ("train", "valid", "test"):
        for task in ("asr", "qa", "gender", "text"):
            result = draft(task, random.Random(3), sources, bucket, holdout=0.1)
            assert text_bucket(result.spoken or result.prompt, 0.1) == bucket
