"""What the token CTC hears on its own, as words in time: its greedy path (argmax per frame) with no text given.

    argmax per frame (T,) --runs of one id, blanks dropped--> emitted tokens (id, first frame, last frame)
      --a token whose text starts with a space starts a word--> words (ids, text, start, end)

So does a capital right after a lower-case letter or punctuation: the CTC often drops the space of a sentence's
first token ("them.He", "heHe"), and a caption should not glue two words into one. The text of all the words,
joined, is the collapsed path decoded (`ctc_drafts`, the CTC transcript) with those spaces put back; the times use
the token head's calibrated lead and lag (`TOKEN_TIMING`), as forced alignment does. Live captions
(`soundwave.inference.live`) are made of these words.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from soundwave.alignment.aligner import TOKEN_TIMING, HeadTiming

SENTENCE_PUNCTUATION = ".,;:!?"


@dataclass(frozen=True)
class HeardWord:
    """One word of a CTC greedy path.

    Attributes:
        ids: its tokens, in the LLM's vocabulary.
        text: the tokens decoded (special tokens skipped), with the leading space that separates it from the word
            before (added where the CTC left it out), so that the texts of consecutive words concatenate.
        first: seconds at which its first token's first frame starts; last: at which its last token's last frame
            ends (the frames themselves, for cutting a stream between words).
        start: first - the head's lead; end: last + the head's lag (where the word was said).
    """

    ids: tuple[int, ...]
    text: str
    first: float
    last: float
    start: float
    end: float


class TokenTexts:
    """Each token id's text, decoded once (a live stream decodes the same few thousand ids over and over)."""

    def __init__(self, tokenizer) -> None:
        self.tokenizer = tokenizer
        self._pieces: dict[int, str] = {}

    def piece(self, token: int) -> str:
        if token not in self._pieces:
            self._pieces[token] = self.tokenizer.decode([token], skip_special_tokens=True)
        return self._pieces[token]

    def starts_word(self, token: int, previous: int | None = None) -> bool:
        """Whether `token` begins a word: its text starts with a space, or with a capital right after `previous`
        ended in a lower-case letter or punctuation."""
        piece = self.piece(token)
        if not piece:
            return False
        if piece[0].isspace():
            return True
        before = self.piece(previous) if previous is not None else ""
        return piece[0].isupper() and bool(before) and (before[-1].islower() or before[-1] in SENTENCE_PUNCTUATION)

    def text(self, ids: tuple[int, ...]) -> str:
        return self.tokenizer.decode(list(ids), skip_special_tokens=True)


def emitted_tokens(best: np.ndarray, blank_id: int) -> list[tuple[int, int, int]]:
    """A CTC argmax path (T,) -> (id, first frame, last frame) of each token it emits (runs merged, blanks dropped)."""
    tokens: list[tuple[int, int, int]] = []
    previous = blank_id
    for frame, token in enumerate(best.tolist()):
        if token != blank_id:
            if token == previous:
                tokens[-1] = (token, tokens[-1][1], frame)
            else:
                tokens.append((token, frame, frame))
        previous = token
    return tokens


def greedy_words(
    best: np.ndarray, times: np.ndarray, blank_id: int, texts: TokenTexts, timing: HeadTiming = TOKEN_TIMING
) -> list[HeardWord]:
    """The words of a CTC greedy path.

    Args:
        best: (T,) the CTC head's argmax at each frame.
        times: (T,) the second each frame starts.
        blank_id: the CTC blank.
        texts: the tokenizer's text of each id.
        timing: the head's frame length, lead and lag.

    Returns:
        The words in order; a word whose text is only spaces or special tokens is left out.
    """
    words = []
    for group in word_groups(emitted_tokens(best, blank_id), texts):
        ids = tuple(token for token, _, _ in group)
        text = spaced(texts.text(ids), after_a_word=bool(words))
        if text is None:
            continue
        first, last = float(times[group[0][1]]), float(times[group[-1][2]]) + timing.frame_seconds
        words.append(HeardWord(ids, text, first, last, max(first - timing.lead, 0.0), last + timing.lag))
    return words


def words_text(ids: tuple[int, ...], texts: TokenTexts) -> str:
    """A token sequence (a beam search's) as words, spaced as `greedy_words` spaces them, no space at either end."""
    out: list[str] = []
    for group in word_groups([(token, i, i) for i, token in enumerate(ids)], texts):
        text = spaced(texts.text(tuple(token for token, _, _ in group)), after_a_word=bool(out))
        if text is not None:
            out.append(text)
    return "".join(out).strip()


def word_groups(tokens: list[tuple[int, int, int]], texts: TokenTexts) -> list[list[tuple[int, int, int]]]:
    """Emitted tokens (id, first frame, last frame) grouped into words: a token that starts a word starts a group."""
    groups: list[list[tuple[int, int, int]]] = []
    for token in tokens:
        if not groups or texts.starts_word(token[0], groups[-1][-1][0]):
            groups.append([])
        groups[-1].append(token)
    return groups


def spaced(text: str, after_a_word: bool) -> str | None:
    """A word's text with the space before it (put back where the CTC began it without one); None: only spaces or
    special tokens (no word)."""
    if not text.strip():
        return None
    return " " + text if after_a_word and not text[0].isspace() else text
