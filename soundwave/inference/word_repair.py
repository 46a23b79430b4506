"""Word repair (ours, session 18): after joint decoding, each word of a transcript that is no word of the lexicon
is replaced by the word near it in spelling that best explains the audio and reads best.

Joint decoding commits to a word piece by piece, so a word the spelling CTC heard a little wrong comes out
misspelled ("corage"). Once the sentence is whole, each non-word is tried against the lexicon words within a few
edits of it, keeping the sentence that scores best:

    score(sentence) = log P_spelling-CTC(sentence | audio) + lm_weight * log P_LM(sentence)

    "There's a fine line between corage and follishes" -> "There's a fine line between courage and foolishness"

The spelling CTC's score is exact (forced alignment over the whole clip); the LM is the model's own LLM read as a
text LM. Words the lexicon knows are never touched.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import Tensor

from soundwave.inference.lexicon import Lexicon
from soundwave.model.spelling import BLANK, spell, spelling_text

SentenceScore = Callable[[list[str]], Tensor]  # sentences -> (N,) scores, higher is better


def nearby_words(spelled: str, lexicon: Lexicon, max_distance: int = 3, limit: int = 8) -> list[str]:
    """Lexicon words within `max_distance` edits (Levenshtein) of a spelled word, closest first, at most `limit`."""
    from rapidfuzz import distance, process

    scorer = distance.Levenshtein.distance
    found = process.extract(spelled, lexicon.words, scorer=scorer, limit=limit, score_cutoff=max_distance)
    return [word for word, _, _ in found]


def respell(word: str, spelled: str) -> str:
    """`word` as written (capital, punctuation around it) with its letters replaced by `spelled`.

    "Corage," + "courage" -> "Courage,"
    """
    start = next((i for i, c in enumerate(word) if c.isalpha()), len(word))
    end = next((i for i in range(len(word), 0, -1) if word[i - 1].isalpha()), start)
    core = spelled.capitalize() if word[start : start + 1].isupper() else spelled
    return word[:start] + core + word[end:]


def spelling_log_likelihood(log_probs: Tensor, sentences: list[str]) -> Tensor:
    """log P(sentence | audio) under the spelling CTC for each sentence: log_probs (T, C) of one clip -> (N,).

    A sentence that cannot align (more labels than frames allow) scores -inf.
    """
    labels = [torch.tensor(spell(s), dtype=torch.long) for s in sentences]
    steps, classes = log_probs.shape
    loss = F.ctc_loss(
        log_probs.float()[:, None, :].expand(steps, len(sentences), classes),  # (T, C) -> (T, N, C)
        torch.cat(labels),
        input_lengths=torch.full((len(sentences),), steps, dtype=torch.long),
        target_lengths=torch.tensor([len(x) for x in labels], dtype=torch.long),
        blank=BLANK,
        reduction="none",
    )  # (N,)
    return -loss


class TextLM:
    """A causal LM read as a text LM: the summed log-probability of each sentence after the tokenizer's BOS.

    Args:
        llm: a transformers causal LM (the speech LLM's own, with or without its LoRA).
        tokenizer: its tokenizer.
    """

    def __init__(self, llm, tokenizer) -> None:
        self.llm, self.tokenizer = llm, tokenizer
        start = tokenizer.bos_token_id if tokenizer.bos_token_id is not None else tokenizer.eos_token_id
        self.start = int(start)
        self.pad = int(tokenizer.pad_token_id if tokenizer.pad_token_id is not None else start)

    @torch.no_grad()
    def __call__(self, sentences: list[str]) -> Tensor:
        rows = [[self.start, *self.tokenizer(s, add_special_tokens=False).input_ids] for s in sentences]
        width = max(len(r) for r in rows)
        device = next(self.llm.parameters()).device
        ids = torch.tensor([r + [self.pad] * (width - len(r)) for r in rows], device=device)  # (N, L)
        mask = torch.tensor([[1] * len(r) + [0] * (width - len(r)) for r in rows], device=device)  # (N, L)
        logits = self.llm(input_ids=ids, attention_mask=mask).logits.float()  # (N, L, V)
        token_log_probs = logits[:, :-1].log_softmax(-1).gather(-1, ids[:, 1:, None])[..., 0]  # (N, L - 1)
        return (token_log_probs * mask[:, 1:]).sum(dim=1).cpu()  # (N,)


def sentence_scorer(log_probs: Tensor, text_lm: SentenceScore | None, lm_weight: float) -> SentenceScore:
    """score(sentences) = spelling CTC log-likelihood + lm_weight * text LM log-prob (the LM only when weighted)."""

    def score(sentences: list[str]) -> Tensor:
        total = spelling_log_likelihood(log_probs, sentences)
        if text_lm is not None and lm_weight > 0:
            total = total + lm_weight * text_lm(sentences)
        return total

    return score


def repair_words(
    text: str, score: SentenceScore, lexicon: Lexicon, max_distance: int = 3, candidates: int = 8, merge: bool = True
) -> str:
    """`text` with each word the lexicon lacks replaced, left to right, by whichever of itself and its nearby
    lexicon words (`nearby_words`) makes the best-scoring sentence; the words before it are already repaired.

    With `merge`, a word split in two ("sat isfied", "a firt") may also join: where either of two neighbours is
    suspect (`is_suspect`), the lexicon words near their concatenation compete too, replacing both.
    """
    words = text.split()
    i = 0
    while i < len(words):
        spelled = spelling_text(words[i]).strip()
        options: list[list[str]] = []  # each replaces words[i : i + len(option)]; "" marks a word merged away
        if is_non_word(spelled, lexicon):
            options += [[respell(words[i], w)] for w in nearby_words(spelled, lexicon, max_distance, candidates)]
        if merge and i + 1 < len(words) and (is_suspect(words[i], lexicon) or is_suspect(words[i + 1], lexicon)):
            joined = spelled + spelling_text(words[i + 1]).strip()
            if joined and " " not in joined:
                nearby = nearby_words(joined, lexicon, max_distance, candidates)
                options += [[respell(words[i] + words[i + 1], w), ""] for w in nearby]
        if options:
            options = [[words[i]], *options]
            sentences = [" ".join([*words[:i], *filter(None, o), *words[i + len(o) :]]) for o in options]
            best = options[int(score(sentences).argmax())]
            words[i : i + len(best)] = list(filter(None, best))
        i += 1
    return " ".join(words)


def is_suspect(word: str, lexicon: Lexicon) -> bool:
    """A word that is likely a piece of a split one: no lexicon word, or a lone letter other than "a" and "I"."""
    spelled = spelling_text(word).strip()
    return spelled not in {"a", "i"} and (len(spelled) == 1 or is_non_word(spelled, lexicon))


def is_non_word(spelled: str, lexicon: Lexicon) -> bool:
    """A spelled word (`spelling_text`) that the lexicon lacks; nothing spelled, or several words, is none."""
    return bool(spelled) and " " not in spelled and not lexicon.is_word(spelled)
