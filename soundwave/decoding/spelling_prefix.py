"""Spelling CTC in joint decoding: the character CTC (`soundwave/model/spelling.py`) scores each LLM token by its
spelling, so the LLM may say a word the token CTC never learned when the audio spells it.

    LLM token " wonders" --TokenSpeller--> labels [space] w o n d e r s --extend_by_labels--> prefix score

A hypothesis's spelling state is its CTC forward variables, prefix score, last label, whether it has a label yet,
and a pending space: spaces are emitted only before the next letter, so punctuation, trailing spaces and the
answer's first leading space cost nothing.

Candidates: the LLM's own top-k and the token CTC's (ctc_prefix.py), plus the tokens that spell what greedy
spelling CTC hears next after the hypothesis (`TokenSpeller.continuations`).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from rapidfuzz.distance import Levenshtein
from torch import Tensor

from soundwave.decoding.ctc_prefix import empty_prefix, full_score, prefix_extend
from soundwave.decoding.lexicon import Lexicon
from soundwave.model.spelling import _LABEL, BLANK, SPACE, greedy_spelling, spelling_text, unspell


@dataclass(frozen=True)
class SpellState:
    """One hypothesis's spelling CTC state."""

    r: Tensor  # (T, 2) log forward variables: [..., 0] ends in a label, [..., 1] in blank
    psi: Tensor  # () log p(the labels so far are a prefix of the spelling)
    labels: tuple[int, ...]  # the labels so far
    pending: bool  # a space waits for the next letter


def token_labels(spelled: str, started: bool, pending: bool) -> tuple[list[int], bool]:
    """Labels a token adds after a prefix (`started`: it has a label; `pending`: a space waits) and the new pending.

    spelled: the token's `spelling_text` (spaces kept where the token has them).
    """
    labels = []
    for char in spelled:
        if char == " ":
            pending = True
            continue
        if pending and (started or labels):
            labels.append(SPACE)
        labels.append(_LABEL[char])
        pending = False
    return labels, pending


class TokenSpeller:
    """Every LLM token's spelling, and the tokens that spell a given continuation.

    Args:
        tokenizer: the LLM's tokenizer; special tokens spell nothing.
        vocab_size: ids past the tokenizer's (e.g. `<audio_patch>` rows) spell nothing.
    """

    def __init__(self, tokenizer, vocab_size: int) -> None:
        special = set(tokenizer.all_special_ids)
        n = len(tokenizer)
        self.spellings = [
            "" if i in special or i >= n else spelling_text(tokenizer.decode([i])) for i in range(vocab_size)
        ]
        self.by_spelling: dict[str, list[int]] = {}
        for i, spelled in enumerate(self.spellings):
            if spelled.strip():
                self.by_spelling.setdefault(spelled, []).append(i)

    def continuations(self, heard: str, prefix: str, limit: int = 4) -> list[int]:
        """Tokens that spell what `heard` (greedy spelling CTC) says after `prefix` (the hypothesis's spelling).

        The prefix is aligned to the start of `heard` that is closest in edit distance; the up to `limit` longest
        tokens that spell the next characters (as a word start if a space or the start comes first) are returned.
        """
        if not heard:
            return []
        cut = min(range(len(heard) + 1), key=lambda j: (Levenshtein.distance(prefix, heard[:j]), -j))
        rest = heard[cut:]
        word_start = not prefix or rest.startswith(" ")
        rest = rest.lstrip(" ")
        found = []
        for length in range(min(len(rest), 16), 0, -1):
            piece = rest[:length]
            keys = [" " + piece, piece] if word_start else [piece]
            for key in keys:
                found += self.by_spelling.get(key, [])[:2]
            if len(found) >= limit:
                break
        return found[:limit]


def extend_by_labels(
    logp: Tensor,
    lengths: Tensor,
    r: Tensor,
    psi: Tensor,
    last: Tensor,
    empty: Tensor,
    labels: list[list[int]],
    items: Tensor | None = None,
) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """Extend N prefixes by label sequences of any length (0 included), one label position at a time.

    Args:
        logp: (I, T, C) spelling CTC log-probs of each item's audio; items (N,) the item each prefix answers (None:
            prefix n answers item n); lengths (N,) valid frames.
        r: (N, T, 2) forward variables; psi (N,) prefix scores; last (N,) last labels; empty (N,) no label yet.
        labels: N label lists.

    Returns:
        r, psi, last, empty after the extensions (a prefix with no labels to add is unchanged).
    """
    r, psi, last, empty = r.clone(), psi.clone(), last.clone(), empty.clone()
    items = items if items is not None else torch.arange(len(labels))
    longest = max([0, *(len(seq) for seq in labels)])
    for position in range(longest):
        rows = torch.tensor([n for n, seq in enumerate(labels) if len(seq) > position], dtype=torch.long)
        step = torch.tensor([[labels[n][position]] for n in rows.tolist()])  # (n, 1)
        r_new, psi_new = prefix_extend(logp, lengths[rows], r[rows], last[rows], empty[rows], step, BLANK, items[rows])
        r[rows], psi[rows] = r_new[:, 0], psi_new[:, 0]
        last[rows], empty[rows] = step[:, 0], False
    return r, psi, last, empty


class SpellingScorer:
    """Spelling CTC prefix scores for CTCPrefixScorer: one state per (item, answer prefix).

    Args:
        log_probs: (N, T, C) log-softmax of the spelling logits per item; lengths (N,) valid frames.
        speller: the LLM tokens' spellings.
        lexicon: words a hypothesis may spell (None: any string); lexicon_penalty: taken off a candidate's score
            per word it spells that is no word or starts none (`Lexicon.violations`), and off the end's when the
            last word is none.
    """

    def __init__(
        self,
        log_probs: Tensor,
        lengths: Tensor,
        speller: TokenSpeller,
        lexicon: Lexicon | None = None,
        lexicon_penalty: float = 0.0,
    ) -> None:
        self.logp, self.lengths, self.speller = log_probs.float(), lengths, speller
        self.lexicon, self.lexicon_penalty = lexicon, lexicon_penalty
        self.heard = greedy_spelling(self.logp, lengths)  # what it hears, per item
        self.states: dict[tuple, SpellState] = {}

    def state(self, item: int, prefix: tuple) -> SpellState:
        if not prefix:
            r = empty_prefix(self.logp[item : item + 1], BLANK)[0]
            return SpellState(r, torch.tensor(0.0), (), False)
        return self.states[(item, prefix)]

    def candidates(self, item: int, prefix: tuple, limit: int = 4) -> list[int]:
        """Tokens that continue the prefix with what greedy spelling CTC heard."""
        return self.speller.continuations(self.heard[item], unspell(list(self.state(item, prefix).labels)), limit)

    def score(self, items: list[int], prefixes: list[tuple], cands: Tensor) -> tuple[Tensor, Tensor]:
        """Scores of extending each row's prefix by each candidate token.

        Args:
            items: R item indices; prefixes: R answer prefixes (token ids); cands: (R, K) candidate tokens.

        Returns:
            delta (R, K): log p_spell(prefix + c ...) - log p_spell(prefix ...), and end (R,): log p_spell(prefix is
            the whole spelling) - log p_spell(prefix ...). States of every extension are kept for the next step.

        A token that spells nothing (punctuation, digits, a bare space) scores `end`: it is as likely as the spelling
        ending there. Free, such tokens would win wherever letters are uncertain, and a hypothesis could postpone
        a word it cannot say forever ("Back up the system.\n.1.1.2" for "Backed up the system lately?"); so scored,
        they come where the audio ends, and commas drop out of transcripts (WER ignores them).
        """
        rows, width = cands.shape
        states = [self.state(i, p) for i, p in zip(items, prefixes, strict=True)]
        flat_states = [states[n // width] for n in range(rows * width)]
        flat_items = torch.tensor([items[n // width] for n in range(rows * width)])
        labels, pendings = [], []
        for n, token in enumerate(cands.reshape(-1).tolist()):
            state = flat_states[n]
            seq, pending = token_labels(self.speller.spellings[token], bool(state.labels), state.pending)
            labels.append(seq)
            pendings.append(pending)
        r, psi, _, _ = extend_by_labels(
            self.logp,
            self.lengths[flat_items],
            torch.stack([s.r for s in flat_states]),
            torch.stack([s.psi for s in flat_states]),
            torch.tensor([s.labels[-1] if s.labels else -1 for s in flat_states]),
            torch.tensor([not s.labels for s in flat_states]),
            labels,
            flat_items,
        )
        prefix_psi = torch.stack([s.psi for s in states])  # (R,)
        delta = psi.reshape(rows, width) - prefix_psi[:, None]
        end = full_score(torch.stack([s.r for s in states]), self.lengths[torch.tensor(items)]) - prefix_psi
        silent = torch.tensor([not seq for seq in labels]).reshape(rows, width)  # tokens that spell nothing
        if self.lexicon is not None and self.lexicon_penalty > 0:
            before = [unspell(list(s.labels)) for s in states]
            bad = [
                self.lexicon.violations(before[n // width], unspell(list(flat_states[n].labels) + labels[n]))
                for n in range(rows * width)
            ]
            delta = delta - self.lexicon_penalty * torch.tensor(bad, dtype=delta.dtype).reshape(rows, width)
            last_words = [text.split(" ")[-1] for text in before]
            end = end - self.lexicon_penalty * torch.tensor([float(not self.lexicon.is_word(w)) for w in last_words])
        delta = torch.where(silent, end[:, None], delta)  # see `score`
        self.states = {
            (items[n // width], (*prefixes[n // width], token)): SpellState(
                r[n], psi[n], flat_states[n].labels + tuple(labels[n]), pendings[n]
            )
            for n, token in enumerate(cands.reshape(-1).tolist())
        }
        return delta, end
