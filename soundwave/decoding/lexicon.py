"""A word list for joint decoding: with the spelling CTC the LLM can spell any string, so a word it spells must be
a word (or the start of one) from a lexicon, or pay a penalty (`SpellingScorer(lexicon=..., lexicon_penalty=...)`).

    "i was gradi" -> "gradi" starts a word (gradient)? yes    "gradified " -> "gradified" is a word? no: penalty
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterable
from pathlib import Path

from soundwave.model.spelling import spelling_text

SYSTEM_WORDS = Path("/usr/share/dict/words")  # Debian's wamerican (scripts/setup.sh installs it)


class Lexicon:
    """Spelled words (`spelling_text`: lower case, letters and apostrophes), sorted for prefix lookups."""

    def __init__(self, words: Iterable[str]) -> None:
        spelled = {spelling_text(w).strip() for w in words}
        self.words = sorted(w for w in spelled if w and " " not in w)

    @classmethod
    def from_file(cls, path: str | Path = SYSTEM_WORDS) -> Lexicon:
        """One word per line (a missing file: FileNotFoundError naming it)."""
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"{path}: no word list (Debian: apt-get install wamerican)")
        return cls(path.read_text(errors="ignore").split())

    def __len__(self) -> int:
        return len(self.words)

    def is_word(self, word: str) -> bool:
        i = bisect_left(self.words, word)
        return i < len(self.words) and self.words[i] == word

    def is_prefix(self, piece: str) -> bool:
        """Some word starts with `piece` ("" starts every word)."""
        i = bisect_left(self.words, piece)
        return i < len(self.words) and self.words[i].startswith(piece)

    def violations(self, before: str, after: str) -> int:
        """Words of `after` (a hypothesis's spelling) that `before` (its spelling one token earlier) had not yet
        finished and that are no words, plus 1 if its unfinished last word starts no word."""
        words = after.split(" ")
        finished = len(before.split(" ")) - 1  # words of `before` already checked as finished
        bad = sum(not self.is_word(w) for w in words[finished:-1])
        return bad + (not self.is_prefix(words[-1]))
