"""Word repair (ours): after joint decoding, each word of a transcript that is no word of the lexicon
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

import copy
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import Tensor

from soundwave.decoding.lexicon import Lexicon
from soundwave.model.kv_cache import cache_kwargs, llm_cache
from soundwave.model.spelling import BLANK, spell, spelling_text

SentenceScore = Callable[[list[str]], Tensor]  # sentences -> (N,) scores, higher is better
SHARED_READ_MIN = 128  # token reads a separate pass over the candidates' shared words must save to be worth it
MAX_REPAIRED_WORDS = 64  # words tried per clip (shared by its n-best): repair's work is bounded whatever was decoded


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
        self.context = ReadContext(
            llm, lambda: llm.get_input_embeddings()(torch.tensor([[int(start)]], device=device_of(llm)))[0]
        )

    def __call__(self, sentences: list[str]) -> Tensor:
        return self.context.score([self.tokenizer(s, add_special_tokens=False).input_ids for s in sentences])

    def heads(self, sentences: list[str], complete: bool) -> Tensor:
        """(N,) log-probs of each sentence's tokens after those all of them share (`ReadContext.score_after`)."""
        return self.context.score_after([self.tokenizer(s, add_special_tokens=False).input_ids for s in sentences])


class SpeechLM:
    """The speech LLM read as a scorer of answers: log P(sentence, end of turn | the row's prompt and its audio).

    Unlike the text LM it hears the clip (through the audio embeds spliced into the prompt), so it weighs what
    was said as well as what reads well.

    Args:
        llm: the speech model's LLM (with its LoRA).
        tokenizer: its tokenizer.
        prompt_embeds: (S, D) one row's spliced prompt (text and audio embeds, no padding), ending where the
            answer starts.
        end_id: the end-of-turn token that closes an answer.
        prompt_keys: (S,) which prompt keys may be attended (the release masks its `<|eot_id|>` keys); None: all.
    """

    def __init__(self, llm, tokenizer, prompt_embeds: Tensor, end_id: int, prompt_keys: Tensor | None = None) -> None:
        self.tokenizer, self.end = tokenizer, int(end_id)
        self.context = ReadContext(llm, lambda: prompt_embeds, prompt_keys)

    def __call__(self, sentences: list[str]) -> Tensor:
        return self.context.score(self._rows(sentences, complete=True))

    def heads(self, sentences: list[str], complete: bool) -> Tensor:
        """(N,) log-probs of each sentence's tokens after those all of them share (`ReadContext.score_after`), the
        end of turn included when the sentences are `complete` answers."""
        return self.context.score_after(self._rows(sentences, complete))

    def _rows(self, sentences: list[str], complete: bool) -> list[list[int]]:
        end = [self.end] if complete else []
        return [[*self.tokenizer(s, add_special_tokens=False).input_ids, *end] for s in sentences]


class ReadContext:
    """A context the LLM reads once (its KV cache kept), then scores token rows continuing it.

    `score` gives whole rows' log-probs: it reads the rows' common leading tokens once (when that saves at least
    `SHARED_READ_MIN` token reads: a pass of its own costs a read of every weight) and the rest in one right-padded
    batch. `score_after` gives only what follows the common tokens, which it reads into a prefix kept across calls
    (repair moves left to right: each word's candidates share the words before it, read once for the clip).

    Args:
        llm: a transformers causal LM.
        embeds: () -> (S, D) the context's input embeddings (built on first use).
        keys: (S,) which context keys may be attended; None: all.
    """

    def __init__(self, llm, embeds: Callable[[], Tensor], keys: Tensor | None = None) -> None:
        self.llm, self.embeds, self.keys = llm, embeds, keys
        self.read: tuple | None = None  # (KV cache, (S,) keys, (V,) logits of the last step)
        self.prefix: tuple | None = None  # (P tokens read after the context, KV cache, (S + P,) keys, (V,) logits)

    @torch.no_grad()
    def _read(self) -> tuple:
        if self.read is None:
            embeds = self.embeds().to(self.llm.get_input_embeddings().weight.dtype)  # (S, D)
            keys = self.keys if self.keys is not None else torch.ones(embeds.shape[0], dtype=torch.long)
            keys = keys.long().to(embeds.device)
            out = self.llm(inputs_embeds=embeds[None], attention_mask=keys[None], use_cache=True)
            self.read = (llm_cache(out), keys, out.logits[0, -1].float())
        return self.read

    @torch.no_grad()
    def score(self, rows: list[list[int]]) -> Tensor:
        """(N,) summed log-probs of each (non-empty) token row following the context."""
        context, keys, last = self._read()
        cache = copy.deepcopy(context)
        shared = shared_prefix(rows)
        if len(shared) * (len(rows) - 1) < SHARED_READ_MIN:  # an extra pass costs more than it saves
            shared = []
        total = torch.zeros(())
        if shared:  # read once: its tokens' log-probs count for every row
            ids = torch.tensor([shared], device=keys.device)  # (1, P)
            keys = torch.cat([keys, torch.ones_like(ids[0])])  # (S + P,)
            logits = self.llm(input_ids=ids, attention_mask=keys[None], **cache_kwargs(cache)).logits[0].float()
            total = summed_log_probs(torch.cat([last[None], logits[:-1]])[None], ids, torch.ones_like(ids))[0]
            last = logits[-1]  # (V,)
        return total + self._rest(cache, keys, last, [row[len(shared) :] for row in rows])

    @torch.no_grad()
    def score_after(self, rows: list[list[int]]) -> Tensor:
        """(N,) summed log-probs of each token row's tokens after the leading ones all rows share.

        The shared tokens' log-prob is the same for every row, so these rank rows as `score` does; they are read
        once, into a prefix that the next call extends (or cuts back to where it still matches).
        """
        shared = shared_prefix(rows)
        cache, keys, last = self._prefix(shared)
        return self._rest(copy.deepcopy(cache), keys, last, [row[len(shared) :] for row in rows])

    def _prefix(self, tokens: list[int]) -> tuple:
        """The context followed by `tokens`, read: (KV cache, (S + P,) keys, (V,) logits after the last token)."""
        context, keys, last = self._read()
        have, cache, have_keys, have_last = self.prefix or ([], None, keys, last)
        common = len(shared_prefix([have, tokens], own=0))
        if cache is None or common < len(have):  # cut back to what still matches; its last token is read again
            keep = max(common - 1, 0)
            if keep == 0:
                have, cache, have_keys, have_last = [], copy.deepcopy(context), keys, last
            else:
                cache.crop(keep - len(have))  # drop the tokens past `keep` (a negative count)
                have, have_keys = have[:keep], have_keys[: len(keys) + keep]
        extension = tokens[len(have) :]
        if extension:
            ids = torch.tensor([extension], device=keys.device)  # (1, E)
            have_keys = torch.cat([have_keys, torch.ones_like(ids[0])])  # (S + P,)
            out = self.llm(input_ids=ids, attention_mask=have_keys[None], **cache_kwargs(cache))
            have_last = out.logits[0, -1].float()
        self.prefix = (list(tokens), cache, have_keys, have_last)
        return cache, have_keys, have_last

    def _rest(self, cache, keys: Tensor, last: Tensor, rest: list[list[int]]) -> Tensor:
        """(N,) summed log-probs of token rows continuing a read context (`cache` is used up: repeated per row)."""
        ids, mask = right_padded(rest, 0, keys.device)  # (N, L) each
        cache.batch_repeat_interleave(len(rest))  # (1, S + P) keys -> (N, S + P)
        attention = torch.cat([keys[None].expand(len(rest), -1), mask], dim=1)  # (N, S + P + L)
        logits = self.llm(input_ids=ids, attention_mask=attention, **cache_kwargs(cache)).logits.float()  # (N, L, V)
        predicting = torch.cat([last.expand(len(rest), 1, -1), logits[:, :-1]], dim=1)  # step j predicts token j
        return summed_log_probs(predicting, ids, mask)


def shared_prefix(rows: list[list[int]], own: int = 1) -> list[int]:
    """The longest leading tokens all rows share, leaving each row at least `own` tokens of its own."""
    shortest = min(len(row) for row in rows)
    length = 0
    while length < shortest - own and all(row[length] == rows[0][length] for row in rows):
        length += 1
    return rows[0][:length]


def device_of(module) -> torch.device:
    return next(module.parameters()).device


def right_padded(rows: list[list[int]], pad: int, device) -> tuple[Tensor, Tensor]:
    """Token rows -> (N, L) ids padded on the right with `pad`, and the (N, L) mask of real tokens."""
    width = max(len(r) for r in rows)
    ids = torch.tensor([r + [pad] * (width - len(r)) for r in rows], device=device)
    mask = torch.tensor([[1] * len(r) + [0] * (width - len(r)) for r in rows], device=device)
    return ids, mask


def summed_log_probs(logits: Tensor, targets: Tensor, mask: Tensor) -> Tensor:
    """(N, L, V) logits, each predicting the (N, L) target at its step -> (N,) summed log-probs where `mask` is 1."""
    token_log_probs = logits.float().log_softmax(-1).gather(-1, targets[..., None])[..., 0]  # (N, L)
    return (token_log_probs * mask).sum(dim=1).cpu()


def cached(score: SentenceScore) -> SentenceScore:
    """`score` remembering each sentence's value (repair scores the current sentence again at every word)."""
    seen: dict[str, float] = {}

    def lookup(sentences: list[str]) -> Tensor:
        new = [s for s in dict.fromkeys(sentences) if s not in seen]
        if new:
            seen.update(zip(new, score(new).tolist(), strict=True))
        return torch.tensor([seen[s] for s in sentences])

    if hasattr(score, "heads"):  # relative scores are not remembered: they depend on the sentences compared
        lookup.heads = score.heads
    return lookup


def sentence_scorer(
    log_probs: Tensor,
    text_lm: SentenceScore | None,
    lm_weight: float,
    speech_lm: SentenceScore | None = None,
    speech_weight: float = 0.0,
) -> SentenceScore:
    """score(sentences) = spelling CTC log-likelihood + lm_weight * text LM log-prob + speech_weight * speech LLM
    log-prob (each LM only when weighted)."""

    def score(sentences: list[str]) -> Tensor:
        total = spelling_log_likelihood(log_probs, sentences)
        if text_lm is not None and lm_weight > 0:
            total = total + lm_weight * text_lm(sentences)
        if speech_lm is not None and speech_weight > 0:
            total = total + speech_weight * speech_lm(sentences)
        return total

    def local(sentences: list[str], heads: list[str], complete: bool) -> Tensor:
        """Scores ranking sentences that differ only inside their `heads` (each sentence cut after the same words)
        as `score` would, with the LMs reading only the heads' tokens after what all share (`heads` methods)."""
        total = spelling_log_likelihood(log_probs, sentences)
        for lm, weight in ((text_lm, lm_weight), (speech_lm, speech_weight)):
            if lm is not None and weight > 0:
                part = lm.heads(heads, complete) if hasattr(lm, "heads") else lm(sentences)
                total = total + weight * part
        return total

    score.acoustic = lambda sentences: spelling_log_likelihood(log_probs, sentences)  # the shortlist's cheap score
    score.local = local
    return score


def repair_words(
    text: str,
    score: SentenceScore,
    lexicon: Lexicon,
    max_distance: int = 3,
    candidates: int = 8,
    merge: bool = True,
    span: int = 3,
    real_distance: int = 0,
    real_margin: float = 0.0,
    pool: int = 0,
    budget: int = MAX_REPAIRED_WORDS,
    window: int | None = None,
) -> str:
    """`text` with each word the lexicon lacks replaced, left to right, by whichever of itself and its nearby
    lexicon words (`nearby_words`) makes the best-scoring sentence; the words before it are already repaired.

    With `pool` > `candidates`, up to `pool` nearby words (per word and per merge) are found and the `candidates`
    whose sentences the spelling CTC alone likes best (`score.acoustic`) go on to the full score (`shortlist`):
    `nearby_words` ranks equally distant words alphabetically, so a small limit can cut the right one ("leel": eel,
    feel, ..., lees before level).

    With `merge`, a word split in pieces ("sat isfied", "a firt", "f a ied") may also join: where any of up to `span`
    neighbours is suspect (`is_suspect`), the lexicon words near their concatenation compete too, replacing them all.
    At most `budget` words with options are tried (the rest stay as decoded).
    With `window`, the LMs read each candidate sentence only up to `window` words past the replaced ones
    (`local_scores`): a word's cost no longer grows with the sentence after it.
    With `real_distance` > 0, lexicon words are tried too, against the words within `real_distance` edits of them,
    and give way only to a sentence scoring `real_margin` more ("outwit" -> "outfit" where the audio says so).
    """
    words = text.split()
    i, tried = 0, 0
    while i < len(words) and tried < budget:
        found = max(candidates, pool)
        options = word_options(words, i, lexicon, max_distance, found, span if merge else 1, real_distance)
        if found > candidates:
            options = shortlist(words, i, options, score.acoustic, candidates)
        if options:
            tried += 1
            replacements = [[words[i]], *(o for o, _ in options)]  # each replaces words[i : i + len(it)]
            margins = torch.tensor([0.0, *(real_margin if real else 0.0 for _, real in options)])
            best = replacements[int((local_scores(score, words, i, replacements, window) - margins).argmax())]
            words[i : i + len(best)] = list(filter(None, best))
        i += 1
    return " ".join(words)


def local_scores(
    score: SentenceScore, words: list[str], i: int, replacements: list[list[str]], window: int | None
) -> Tensor:
    """(N,) scores of the sentences with words[i:] replaced by each of `replacements`, ranked as `score` ranks them.

    The spelling CTC scores whole sentences (it must account for all the audio); the LMs read each sentence cut
    `window` words past the widest replacement (None: whole), and only past the words every candidate shares.
    """
    sentences = [replaced(words, i, o) for o in replacements]
    if not hasattr(score, "local"):
        return score(sentences)
    end = len(words) if window is None else min(len(words), i + max(map(len, replacements)) + window)
    heads = [replaced(words[:end], i, o) for o in replacements]
    return score.local(sentences, heads, end == len(words))


def replaced(words: list[str], i: int, replacement: list[str]) -> str:
    """The sentence with words[i : i + len(replacement)] replaced ("" entries: words merged away)."""
    return " ".join([*words[:i], *filter(None, replacement), *words[i + len(replacement) :]])


def shortlist(words: list[str], i: int, options: list, acoustic: SentenceScore, keep: int) -> list:
    """The `keep` options (`word_options`) whose sentences score best under `acoustic` (in their order)."""
    if len(options) <= keep:
        return options
    sentences = [replaced(words, i, o) for o, _ in options]
    best = acoustic(sentences).topk(keep).indices.sort().values  # (keep,)
    return [options[int(j)] for j in best]


def word_options(
    words: list[str], i: int, lexicon: Lexicon, max_distance: int, candidates: int, span: int, real_distance: int
) -> list[tuple[list[str], bool]]:
    """What may replace words[i:]: (replacement, whether it replaces a lexicon word). A replacement covers as many
    words as it is long; "" marks a word merged away.

    A non-word: its nearby lexicon words. A lexicon word (with `real_distance`): those within that many edits. And
    where any of up to `span` neighbours is suspect (`is_suspect`): the lexicon words near their concatenation.
    """
    spelled = spelling_text(words[i]).strip()
    real = not is_non_word(spelled, lexicon)
    if not real:
        nearby = nearby_words(spelled, lexicon, max_distance, candidates)
    elif real_distance > 0 and len(spelled) > 1 and " " not in spelled:
        nearby = [w for w in nearby_words(spelled, lexicon, real_distance, candidates + 1) if w != spelled]
    else:
        nearby = []
    options = [([respell(words[i], w)], real) for w in nearby]
    for width in range(2, span + 1):
        pieces = words[i : i + width]
        if len(pieces) < width or not any(is_suspect(w, lexicon) for w in pieces):
            continue
        joined = "".join(spelling_text(w).strip() for w in pieces)
        if joined and " " not in joined:
            merged = nearby_words(joined, lexicon, max_distance, candidates)
            options += [([respell("".join(pieces), w), *[""] * (width - 1)], False) for w in merged]
    return options


def repair_best(texts: list[str], score: SentenceScore, lexicon: Lexicon, **options) -> tuple[int, str]:
    """Each of `texts` (a clip's best beams) repaired (`repair_words`); the index and text of the best-scoring.

    ["a cot", "a cet"] heard as "a cat" -> (1, "a cat"): the second beam's non-word repairs into what was said.
    """
    budget = max(1, MAX_REPAIRED_WORDS // len(texts))  # the clip's budget, shared by its hypotheses
    repaired = [repair_words(text, score, lexicon, budget=budget, **options) for text in texts]
    best = int(score(repaired).argmax()) if len(repaired) > 1 else 0
    return best, repaired[best]


def is_suspect(word: str, lexicon: Lexicon) -> bool:
    """A word that is likely a piece of a split one: no lexicon word, or a lone letter other than "a" and "I"."""
    spelled = spelling_text(word).strip()
    return spelled not in {"a", "i"} and (len(spelled) == 1 or is_non_word(spelled, lexicon))


def is_non_word(spelled: str, lexicon: Lexicon) -> bool:
    """A spelled word (`spelling_text`) that the lexicon lacks; nothing spelled, or several words, is none."""
    return bool(spelled) and " " not in spelled and not lexicon.is_word(spelled)
