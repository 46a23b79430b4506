"""Sentences to speak, from offline sources only: templated everyday sentences, short cleaned fortunes (Debian
`fortunes`), usage examples and definitions from WordNet's glosses (Debian `wordnet-base`), word lists (Debian
`wamerican`).
Every draw takes an explicit `random.Random`, so a seed fixes the text; `speakable` cleans text so every engine
reads it the same way (numbers become words).
"""

from __future__ import annotations

import random
import re
from collections.abc import Iterator
from functools import cache
from pathlib import Path

from soundwave.synth import lexicon as lx

FORTUNE_DIR = Path("/usr/share/games/fortunes")
# benign, mostly plain-English collections (no politics, drugs, ethnic or off-colour jokes; little jargon)
FORTUNE_FILES = (
    "fortunes", "wisdom", "cookie", "food", "kids", "education", "humorists", "literature",
    "love", "people", "pets", "platitudes", "science", "work", "miscellaneous", "sports",
)  # fmt: skip
# more collections for lexical breadth (source `fortune_wide`): plain English on other subjects; the same
# by-hash text hold-out applies, so a fortune of the held-out 10 % is never spoken in train from here either
WIDE_FORTUNE_FILES = (
    "art", "computers", "definitions", "goedel", "law", "magic", "medicine", "news", "paradoxum", "pratchett",
    "riddles", "songs-poems", "startrek", "tao", "translate-me",
)  # fmt: skip
WORDS_FILE = Path("/usr/share/dict/american-english")
WORDNET_DIR = Path("/usr/share/wordnet")
_WORDNET_EXAMPLE = re.compile(r'"([^"]+)"')

_ONES = (
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen "
    "seventeen eighteen nineteen"
).split()
_TENS = "_ _ twenty thirty forty fifty sixty seventy eighty ninety".split()
_ALLOWED = re.compile(r"^[A-Za-z][A-Za-z ,.?!';:-]*$")


def number_words(n: int) -> str:
    """0 <= n < 1,000,000 in English words: 42 -> "forty-two", 1905 -> "one thousand nine hundred five"."""
    if not 0 <= n < 1_000_000:
        raise ValueError(f"number_words handles 0..999999, got {n}")
    if n < 20:
        return _ONES[n]
    if n < 100:
        return _TENS[n // 10] + ("-" + _ONES[n % 10] if n % 10 else "")
    if n < 1000:
        rest = f" {number_words(n % 100)}" if n % 100 else ""
        return f"{_ONES[n // 100]} hundred{rest}"
    rest = f" {number_words(n % 1000)}" if n % 1000 else ""
    return f"{number_words(n // 1000)} thousand{rest}"


def clock_words(hour: int, minute: int) -> str:
    """Spoken clock time: (7, 30) -> "seven thirty", (9, 0) -> "nine o'clock", (6, 5) -> "six oh five"."""
    h = number_words(hour)
    if minute == 0:
        return f"{h} o'clock"
    if minute < 10:
        return f"{h} oh {number_words(minute)}"
    return f"{h} {number_words(minute)}"


def speakable(text: str) -> str | None:
    """Clean `text` into one line every engine reads alike, or None when it cannot be.

    Whitespace is collapsed, curly quotes straightened, double quotes and brackets dropped, whole numbers of
    up to three digits spelled out, and a full stop added when the end has no mark. What is left must use
    letters and `,.?!';:-` only: other digits (years, decimals, prices) and symbols make it None, since each
    engine would read them its own way.
    """
    text = text.replace("\u2019", "'").replace("\u2018", "'").replace("\u201c", "").replace("\u201d", "")
    text = re.sub(r'["()\[\]_*]', "", text)
    text = re.sub(r"\s+", " ", text).strip()
    text = re.sub(r"(?<![\d.,])\d{1,3}(?![\d]|[.,]\d)", lambda m: number_words(int(m.group())), text)
    text = re.sub(r"\s+([,.?!;:])", r"\1", text)
    if not text or not _ALLOWED.match(text) or "--" in text:
        return None
    if text[-1] not in ".?!":
        text += "."
    return text


def _clean_fortune(block: str) -> str | None:
    lines = [line for line in block.splitlines() if not line.strip().startswith("--")]  # drop attributions
    if any(line.startswith(("\t", "    ")) for line in lines) or re.search(r"\b[QA]:", block):
        return None  # verse, dialogue, tables
    text = speakable(" ".join(lines))
    if text is None or not 4 <= len(text.split()) <= 20 or text.isupper():
        return None
    return text


def _read_fortunes(names: tuple[str, ...]) -> tuple[str, ...]:
    found: set[str] = set()
    for name in names:
        path = FORTUNE_DIR / name
        if path.is_file():
            for block in path.read_text(errors="replace").split("\n%\n"):
                text = _clean_fortune(block)
                if text:
                    found.add(text)
    return tuple(sorted(found))


@cache
def fortunes() -> tuple[str, ...]:
    """Short fortunes (4-20 words, one sentence-ish, speakable), sorted; empty if `fortunes` is missing."""
    return _read_fortunes(FORTUNE_FILES)


@cache
def wide_fortunes() -> tuple[str, ...]:
    """Short fortunes of the `WIDE_FORTUNE_FILES` collections not already in `fortunes()`, sorted."""
    known = set(fortunes())
    return tuple(sorted(t for t in _read_fortunes(WIDE_FORTUNE_FILES) if t not in known and _plain(t)))


_SHOUTED = re.compile(r"\b[A-Z]{2,}\b")
_INNER_CAPITAL = re.compile(r"(?<=\w )[A-Z]")


def _plain(text: str, names: bool = True) -> bool:
    """No shouted words, no inline attribution ("... -Goldwyn"), and with `names=False` no capital after the
    first word (proper names, Latin genera) but "I"."""
    if _SHOUTED.search(text) or re.search(r"\s-\s*[A-Z]", text):
        return False
    return names or not _INNER_CAPITAL.search(re.sub(r"\bI\b", "i", text))


@cache
def dictionary_words() -> tuple[str, ...]:
    """Plain lower-case words of 3-10 letters from `wamerican`, sorted; empty if it is missing."""
    if not WORDS_FILE.is_file():
        return ()
    words = {w for w in WORDS_FILE.read_text(errors="replace").split() if w.isalpha() and w.islower()}
    return tuple(sorted(w for w in words if w.isascii() and 3 <= len(w) <= 10))


def clean_example(example: str) -> str | None:
    """One WordNet usage example as a speakable sentence (4-20 words, capitalized), or None.

    Quotations with an attribution ("... -Shakespeare") keep only the quoted words."""
    example = re.sub(r"\s+-\s*[A-Z][\w .']*$", "", example.strip())
    text = speakable(example)
    if text is None or not 4 <= len(text.split()) <= 20:
        return None
    return text[0].upper() + text[1:]


def _wordnet_glosses() -> Iterator[str]:
    """The gloss of every synset in WordNet's data files (what follows "|"), in file order."""
    for part in ("noun", "verb", "adj", "adv"):
        path = WORDNET_DIR / f"data.{part}"
        if not path.is_file():
            continue
        for line in path.read_text(errors="replace").splitlines():
            if line.startswith("  ") or "|" not in line:  # the licence header
                continue
            yield line.split("|", 1)[1]


@cache
def wordnet_examples() -> tuple[str, ...]:
    """Usage examples from WordNet's glosses ("She sighed sadly."), cleaned and sorted; empty if WordNet is
    missing. Everyday and literary English of every register: ~30,000 sentences."""
    found = {text for gloss in _wordnet_glosses() for text in map(clean_example, _WORDNET_EXAMPLE.findall(gloss))}
    return tuple(sorted(found - {None}))


@cache
def wordnet_definitions() -> tuple[str, ...]:
    """WordNet's definitions, the part of each gloss before its examples ("The act of folding in parallel
    folds."), cleaned like the examples, without proper names, sorted; empty if WordNet is missing. ~70,000
    phrases that name a far wider vocabulary than the examples (every sense of every word is defined)."""
    found = {clean_example(gloss.split(";", 1)[0].split('"', 1)[0]) for gloss in _wordnet_glosses()}
    return tuple(sorted(t for t in found - {None} if _plain(t, names=False)))


def wordnet(rng: random.Random) -> str:
    """One WordNet usage example (falls back to a fortune when `wordnet-base` is not installed)."""
    pool = wordnet_examples()
    return rng.choice(pool) if pool else fortune(rng)


def definition(rng: random.Random) -> str:
    """One WordNet definition (falls back to a usage example when `wordnet-base` is not installed)."""
    pool = wordnet_definitions()
    return rng.choice(pool) if pool else wordnet(rng)


def wide_fortune(rng: random.Random) -> str:
    """One fortune of the wider collections (falls back to `fortune`)."""
    pool = wide_fortunes()
    return rng.choice(pool) if pool else fortune(rng)


def word_list(rng: random.Random) -> str:
    """Two to four dictionary words as one utterance, "Lantern, orbit, velvet."."""
    pool = dictionary_words() or lx.NOUNS
    words = [rng.choice(pool) for _ in range(rng.randint(2, 4))]
    return ", ".join(words).capitalize() + "."


def fortune(rng: random.Random) -> str:
    """One short fortune (falls back to an everyday sentence when `fortunes` is not installed)."""
    pool = fortunes()
    return rng.choice(pool) if pool else everyday(rng)


_EVERYDAY = (
    "{name} is going to the {place} {when}.",
    "Please put the {object} on the {furniture}.",
    "I need to buy {count} {foods} before {weekday}.",
    "Can you call me back {when}?",
    "The weather is {weather} today, so take a {clothing}.",
    "My {relative} lives near the {place}.",
    "We should leave at {clock} to catch the bus.",
    "Don't forget to {chore} {when}.",
    "The {animal} is sleeping under the {furniture}.",
    "How much does the {colour} {object} cost?",
    "I would like a cup of {drink}, please.",
    "{name} left the {object} in the {room}.",
    "It takes {count} minutes to walk to the {place}.",
    "Could you open the window in the {room}?",
    "The {place} opens at {clock} on {weekday}.",
    "{name} and {name2} are cooking dinner tonight.",
    "Turn left at the {colour} house and walk to the {place}.",
    "I think it will be {weather} {when}.",
    "{name} forgot to {chore} again.",
    "There is a {colour} {object} next to the door.",
    "We watched a film about a {animal} {when}.",
    "Let's meet at the {place} at {clock}.",
)


_NUMBER_SLOTS = {"count": (2, 12), "small": (1, 12), "number": (2, 20), "age": (5, 90)}


def fill_slots(template: str, rng: random.Random) -> dict[str, str]:
    """Draw a value for every `{slot}` in `template`: lexicon lists (`lexicon.SLOTS`), numbers in words
    (`count`, `small`, `number`, `age`), a `clock` time, `name2` (a name other than `name`), `possessive`."""
    values: dict[str, str] = {}
    for slot in re.findall(r"{(\w+)}", template):
        if slot in values:
            continue
        if slot in _NUMBER_SLOTS:
            values[slot] = number_words(rng.randint(*_NUMBER_SLOTS[slot]))
        elif slot == "clock":
            values[slot] = clock_words(rng.randint(1, 12), rng.choice((0, 15, 30, 45, 5, 20, 10, 50)))
        elif slot == "name2":
            values.setdefault("name", rng.choice(lx.NAMES))
            values[slot] = rng.choice([n for n in lx.NAMES if n != values["name"]])
        elif slot == "possessive":
            values[slot] = rng.choice(("his", "her"))
        elif slot in lx.SLOTS:
            values[slot] = rng.choice(lx.SLOTS[slot])
        else:
            raise KeyError(f"template slot {{{slot}}} has no word list (in {template!r})")
    return values


def everyday(rng: random.Random) -> str:
    """One templated everyday sentence: "Please put the lamp on the shelf."."""
    template = rng.choice(_EVERYDAY)
    text = template.format(**fill_slots(template, rng))
    return text[0].upper() + text[1:]


SOURCES = {
    "everyday": everyday,
    "fortune": fortune,
    "wordnet": wordnet,
    "words": word_list,
    "definition": definition,
    "fortune_wide": wide_fortune,
}
