"""Text-only instructions with known answers (no audio): mixed into training so the LLM keeps following
plain text instructions while it learns to listen. Arithmetic, capitals, word meanings, opposites, spelling,
comparisons and "repeat after me", each with a few phrasings.
"""

from __future__ import annotations

import random
from collections.abc import Callable

from soundwave.synth import lexicon as lx
from soundwave.synth.text import everyday


def _arithmetic(rng: random.Random) -> tuple[str, str]:
    a, b = rng.randint(1, 50), rng.randint(1, 50)
    op = rng.choice(("plus", "minus", "times"))
    if op == "minus":
        a, b = max(a, b), min(a, b)
    if op == "times":
        a, b = rng.randint(2, 12), rng.randint(2, 12)
    result = {"plus": a + b, "minus": a - b, "times": a * b}[op]
    phrasing = rng.choice(("What is {a} {op} {b}?", "Calculate {a} {op} {b}.", "How much is {a} {op} {b}?"))
    return phrasing.format(a=a, op=op, b=b), str(result)


def _capital(rng: random.Random) -> tuple[str, str]:
    country = rng.choice(sorted(lx.CAPITALS))
    phrasing = rng.choice(
        ("What is the capital of {c}?", "Name the capital city of {c}.", "Which city is the capital of {c}?")
    )  # noqa: E501
    return phrasing.format(c=country), lx.CAPITALS[country]


def _definition(rng: random.Random) -> tuple[str, str]:
    word = rng.choice(sorted(lx.DEFINITIONS))
    phrasing = rng.choice(
        ("What does the word '{w}' mean?", "Define '{w}' in a few words.", "What is the meaning of '{w}'?")
    )  # noqa: E501
    meaning = lx.DEFINITIONS[word]
    return phrasing.format(w=word), meaning[0].upper() + meaning[1:] + "."


def _opposite(rng: random.Random) -> tuple[str, str]:
    word = rng.choice(sorted(lx.OPPOSITES))
    phrasing = rng.choice(
        (
            "What is the opposite of '{w}'?",
            "Give the opposite of the word '{w}'.",
            "What word means the opposite of '{w}'?",
        )
    )  # noqa: E501
    return phrasing.format(w=word), lx.OPPOSITES[word]


def _spell(rng: random.Random) -> tuple[str, str]:
    word = rng.choice(lx.NOUNS)
    phrasing = rng.choice(("Spell the word '{w}'.", "How do you spell '{w}'? Separate the letters with dashes."))
    return phrasing.format(w=word), "-".join(word.upper())


def _compare(rng: random.Random) -> tuple[str, str]:
    a, b = rng.sample(range(1, 1000), 2)
    if rng.random() < 0.5:
        return f"Which is larger, {a} or {b}?", str(max(a, b))
    return f"Which is smaller, {a} or {b}?", str(min(a, b))


def _repeat(rng: random.Random) -> tuple[str, str]:
    sentence = everyday(rng)
    phrasing = rng.choice(("Repeat after me: {s}", "Say this back to me exactly: {s}", "Please repeat: {s}"))
    return phrasing.format(s=sentence), sentence


def _count_words(rng: random.Random) -> tuple[str, str]:
    sentence = everyday(rng)
    return f"How many words are in this sentence? {sentence}", str(len(sentence.split()))


KINDS: dict[str, Callable[[random.Random], tuple[str, str]]] = {
    "arithmetic": _arithmetic,
    "capital": _capital,
    "definition": _definition,
    "opposite": _opposite,
    "spell": _spell,
    "compare": _compare,
    "repeat": _repeat,
    "count_words": _count_words,
}


def instruction(rng: random.Random) -> tuple[str, str, str]:
    """Draw one text-only instruction: (kind, prompt, answer)."""
    kind = rng.choice(sorted(KINDS))
    prompt, answer = KINDS[kind](rng)
    return kind, prompt, answer
