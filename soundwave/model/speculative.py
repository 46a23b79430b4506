"""Speculative decoding with a free draft (ours): the alignment adapter's CTC already transcribed the audio.

For a transcription the answer is nearly the CTC head's collapsed argmax, in the LLM's own vocabulary. Each LLM
forward pass feeds the token just chosen plus up to `window` drafted tokens that follow it in the CTC transcript;
the LLM's choice at each fed position is kept as long as it agrees with what was fed, so one pass yields
1 + (agreed drafts) tokens and the KV cache is cut back to what was agreed:

    fed       [t, d1, d2, d3]       one forward pass
    chosen    [d1, d2, x]           d1, d2 agree; x differs: keep t d1 d2 in the cache, x is fed next
    output    ... t d1 d2 x         the same ids plain greedy decoding gives, in fewer passes

Greedy decoding gives `generate`'s ids: logits processors and stop criteria are applied at every position exactly
as `generate` applies them. Sampling keeps `generate`'s distribution (speculative sampling with a draft that is
one token for sure): a drafted token d is accepted with probability p(d), else the token is drawn from p without d,
renormalised; either way it is distributed as p (`accept_or_resample`). Beams decode plainly. Rows of a batch
advance together (the batch takes the agreement of its least-agreeing row), so the cache stays rectangular. The
number of drafted tokens fed adapts as transformers' assisted generation adapts it: two more after a pass that
agreed with all, one fewer after one that did not (a wrong draft costs a wider pass for one token). Where even a
one-token draft is refused, drafting pauses (plain one-token passes) for 1, 2, 4, then at most MAX_PAUSE passes
before it tries again: an LLM that disagrees with its CTC pays a wider pass about once in MAX_PAUSE + 1, not on
every token.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass

import torch
from torch import Tensor
from transformers import (
    LogitsProcessorList,
    MinPLogitsWarper,
    RepetitionPenaltyLogitsProcessor,
    StoppingCriteriaList,
    StopStringCriteria,
    TemperatureLogitsWarper,
    TopKLogitsWarper,
    TopPLogitsWarper,
)

from soundwave.model.kv_cache import cache_kwargs, llm_cache

WINDOW = 8  # drafted tokens fed per pass at most
FIRST_WINDOW = 1  # drafted tokens fed in the first pass (then adapted between 1 and WINDOW): a refusal costs least
MAX_PAUSE = 8  # most plain passes between two tries after a refused one-token draft
SUPPORTED = {  # generate kwargs this loop reproduces exactly; anything else decodes plainly
    "max_new_tokens",
    "do_sample",
    "temperature",
    "top_p",
    "top_k",
    "repetition_penalty",
    "eos_token_id",
    "pad_token_id",
    "logits_processor",
    "stop_strings",
    "tokenizer",
    "stopping_criteria",
}


UNSUPPORTED_WARPERS = ("top_h", "typical_p", "epsilon_cutoff", "eta_cutoff")  # sampling knobs not reproduced


def can_speculate(generate_kwargs: dict, defaults=None) -> bool:
    """Whether these `generate` arguments decode (greedily, or sampling) with nothing this loop does not reproduce;
    `defaults`: the LLM's generation_config, which `generate` falls back on for what the arguments leave out."""
    if not set(generate_kwargs) <= SUPPORTED or generate_kwargs.get("max_new_tokens") is None:
        return False
    if generate_kwargs.get("do_sample", False) and defaults is not None:
        return all(getattr(defaults, name, None) in (None, 1.0, 0.0) for name in UNSUPPORTED_WARPERS)
    return True


def sampling_warpers(generate_kwargs: dict, defaults=None) -> LogitsProcessorList:
    """The warpers `generate` applies after the logits processors when sampling, in its order: temperature, top-k,
    top-p, min-p (each from the arguments, else the LLM's generation_config)."""

    def value(name):
        given = generate_kwargs.get(name)
        return given if given is not None else getattr(defaults, name, None)

    warpers = LogitsProcessorList()
    if value("temperature") is not None and value("temperature") != 1.0:
        warpers.append(TemperatureLogitsWarper(value("temperature")))
    if value("top_k") is not None and value("top_k") != 0:
        warpers.append(TopKLogitsWarper(top_k=value("top_k")))
    if value("top_p") is not None and value("top_p") < 1.0:
        warpers.append(TopPLogitsWarper(top_p=value("top_p")))
    if value("min_p") is not None:
        warpers.append(MinPLogitsWarper(min_p=value("min_p")))
    return warpers


def accept_or_resample(probs: Tensor, drafted: Tensor, has_draft: Tensor) -> Tensor:
    """One token per row, distributed as `probs` (B, V) whatever the draft: a row's drafted token (B,) is kept with
    probability p(d); otherwise (and where `has_draft` is False) the token is drawn from p with d removed.

    P(d) = p(d) + 0; P(x != d) = (1 - p(d)) * p(x) / (1 - p(d)) = p(x): speculative sampling with a one-hot draft.
    """
    rows = torch.arange(probs.shape[0], device=probs.device)
    p_draft = torch.where(has_draft, probs[rows, drafted], torch.zeros_like(probs[:, 0]))  # (B,)
    accept = has_draft & (torch.rand_like(p_draft) < p_draft)
    residual = probs.clone()
    residual[rows[has_draft], drafted[has_draft]] = 0.0  # (B, V): p without the refused draft
    empty = residual.sum(dim=-1) <= 0  # p was all on d: d is accepted with probability 1 anyway
    residual[empty] = probs[empty]
    drawn = torch.multinomial(residual, 1)[:, 0]  # renormalised by multinomial
    return torch.where(accept, drafted, drawn)


def collapse_ctc(best: Tensor, length: int, blank_id: int) -> list[int]:
    """A CTC argmax path (T,) -> its transcript ids: repeats merged, blanks dropped."""
    path = best[:length].tolist()
    return [t for i, t in enumerate(path) if t != blank_id and (i == 0 or t != path[i - 1])]


def draft_after(generated: list[int], draft: list[int], cursor: int, window: int = WINDOW) -> tuple[list[int], int]:
    """The draft's tokens that follow what has been generated, and where in the draft they start.

    The generated tail (skipping up to two tokens the draft never has, e.g. punctuation) is found in the draft: its
    last token where the draft was expected to go on (`cursor`, the draft is read left to right), else its last
    2-3 tokens anywhere (a lone common token elsewhere, " the", would draft the wrong words). Nothing generated yet
    drafts from the start; no match drafts nothing.
    """
    if not draft:
        return [], cursor
    if not generated:
        return draft[:window], 0
    known = set(draft)
    tail = list(generated)
    for _ in range(2):
        if tail and tail[-1] not in known:
            tail.pop()
    if tail and cursor < len(draft) and draft[cursor] == tail[-1]:
        return draft[cursor + 1 : cursor + 1 + window], cursor + 1
    for n in (3, 2):
        if len(tail) < n:
            continue
        gram = tail[-n:]
        starts = [j for j in range(len(draft) - n + 1) if draft[j : j + n] == gram]
        if starts:
            j = next((s for s in starts if s + n >= cursor), starts[0])
            return draft[j + n : j + n + window], j + n
    return [], cursor


def adapt_draft(
    width: int, paused: int, pause: int, fed: int, agreed: int, window: int = WINDOW
) -> tuple[int, int, int]:
    """The next pass's draft width, plain passes left before drafting again, and the next pause's length, after a
    pass that fed `fed` drafted tokens of which the LLM agreed with `agreed`.

    All agreed: two wider (up to `window`), pauses reset. Some refused: one narrower. A one-token draft refused: no
    draft for `pause` passes, and the next pause twice as long (up to MAX_PAUSE). Nothing fed: a pause runs down.
    """
    if not fed:
        return width, max(paused - 1, 0), pause
    if agreed == fed:
        return min(width + 2, window), 0, 1
    if fed == 1:
        return width, pause, min(2 * pause, MAX_PAUSE)
    return max(width - 1, 1), 0, pause


def last_logits_only(llm) -> dict:
    """The forward keyword that computes the prefill's logits at its last position only, as `generate` does (all
    S positions would cost S x the vocabulary projection: for SmolLM2, 49,152 x 576 per prompt token), where the
    LLM takes one."""
    base = llm.get_base_model() if hasattr(llm, "get_base_model") else llm
    parameters = inspect.signature(base.forward).parameters
    for name in ("logits_to_keep", "num_logits_to_keep"):  # transformers >= 4.50, 4.45-4.49
        if name in parameters:
            return {name: 1}
    return {}


@dataclass
class SpeculativeResult:
    """New ids (B, N), padded after each row's end as `generate` pads them, and the LLM forward passes used."""

    sequences: Tensor
    llm_forward_passes: int


@torch.no_grad()
def speculative_decode(
    llm,
    inputs_embeds: Tensor,
    attention_mask: Tensor,
    position_ids: Tensor,
    drafts: list[list[int]],
    *,
    max_new_tokens: int,
    eos_token_id: int | list[int],
    pad_token_id: int,
    repetition_penalty: float = 1.0,
    logits_processor: LogitsProcessorList | None = None,
    stop_strings: list[str] | None = None,
    tokenizer=None,
    stopping_criteria: StoppingCriteriaList | None = None,
    do_sample: bool = False,
    temperature: float | None = None,
    top_p: float | None = None,
    top_k: int | None = None,
    window: int = WINDOW,
) -> SpeculativeResult:
    """Greedy decoding or sampling of left-padded prompts (B, S, D), each row drafted by its `drafts` ids.

    Greedy: the ids `llm.generate(inputs_embeds=..., do_sample=False, ...)` returns for the same arguments.
    Sampling: ids distributed as `generate`'s (the same draws, seed for seed, where nothing is drafted).
    """
    sampling = dict(temperature=temperature, top_p=top_p, top_k=top_k)
    warpers = sampling_warpers(sampling, llm.generation_config) if do_sample else None
    processors = LogitsProcessorList(
        [RepetitionPenaltyLogitsProcessor(repetition_penalty)] if repetition_penalty != 1.0 else []
    )
    processors.extend(logits_processor or [])
    criteria = StoppingCriteriaList([StopStringCriteria(tokenizer, stop_strings)] if stop_strings else [])
    criteria.extend(stopping_criteria or [])
    ends = torch.tensor(eos_token_id if isinstance(eos_token_id, list) else [eos_token_id])
    rows, device = inputs_embeds.shape[0], inputs_embeds.device
    out = llm(
        inputs_embeds=inputs_embeds,
        attention_mask=attention_mask,
        position_ids=position_ids,
        use_cache=True,
        **last_logits_only(llm),
    )
    cache, logits, passes = llm_cache(out), out.logits[:, -1:], 1  # (B, 1, V): predicts the first new token
    generated = torch.zeros((rows, 0), dtype=torch.long, device=device)
    done = torch.zeros(rows, dtype=torch.bool, device=device)
    mask, position = attention_mask, position_ids[:, -1] + 1  # (B, S), (B,) the next fed token's position
    cursors, width_now = [0] * rows, min(FIRST_WINDOW, window)
    paused, pause = 0, 1  # plain passes left before drafting again; the next pause's length

    def choose(scores: Tensor, drafted: Tensor | None = None, has_draft: Tensor | None = None) -> Tensor:
        """Append the next token of (B, V) scores (pad where a row is done): the greedy one, or a sample (rows with
        a draft: `accept_or_resample`); mark rows that end."""
        nonlocal generated, done
        scores = processors(generated, scores.float())
        if warpers is None:
            token = scores.argmax(dim=-1)  # (B,)
        else:
            probs = warpers(generated, scores).softmax(dim=-1)  # (B, V), as generate samples
            if drafted is None:
                token = torch.multinomial(probs, 1)[:, 0]  # (B, V) -> (B,)
            else:
                token = accept_or_resample(probs, drafted, has_draft)
        token = torch.where(done, torch.full_like(token, pad_token_id), token)
        generated = torch.cat([generated, token[:, None]], dim=1)  # (B, N) -> (B, N + 1)
        done = done | torch.isin(token, ends.to(device))
        if len(criteria):
            done = done | criteria(generated, scores)
        return token

    token = choose(logits[:, 0])
    while not bool(done.all()) and generated.shape[1] < max_new_tokens:
        room = max_new_tokens - generated.shape[1] - 1  # drafts beyond the length limit are never needed
        proposed = []
        for row in range(rows):
            ahead, cursors[row] = draft_after(generated[row].tolist(), drafts[row], cursors[row], width_now)
            proposed.append([] if bool(done[row]) or paused else ahead[: max(room, 0)])
        width = max(len(p) for p in proposed)
        draft = torch.full((rows, width), pad_token_id, dtype=torch.long, device=device)
        for row, ids in enumerate(proposed):
            draft[row, : len(ids)] = torch.tensor(ids, dtype=torch.long)
        fed = torch.cat([token[:, None], draft], dim=1)  # (B, 1 + W)
        kept = mask.shape[1]
        mask = torch.cat([mask, torch.ones_like(fed)], dim=1)  # (B, S') -> (B, S' + 1 + W)
        positions = position[:, None] + torch.arange(fed.shape[1], device=device)  # (B, 1 + W)
        out = llm(input_ids=fed, attention_mask=mask, position_ids=positions, use_cache=True, **cache_kwargs(cache))
        cache, passes = llm_cache(out), passes + 1
        agreed = 1  # fed tokens now part of the answer: the chosen token, then each draft the LLM agrees with
        lengths = torch.tensor([len(p) for p in proposed], device=device)  # (B,) drafted tokens per row
        for i in range(fed.shape[1]):
            if i < width:
                token = choose(out.logits[:, i], draft[:, i], (i < lengths) & ~done)
            else:
                token = choose(out.logits[:, i])
            if bool(done.all()) or generated.shape[1] >= max_new_tokens or i == width:
                break
            if not bool(((token == draft[:, i]) | done).all()):
                break
            agreed += 1
        width_now, paused, pause = adapt_draft(width_now, paused, pause, width, agreed - 1, window)
        cache.crop(-(fed.shape[1] - agreed))  # drop the fed drafts the LLM disagreed with (a negative count)
        mask, position = mask[:, : kept + agreed], position + agreed
    return SpeculativeResult(generated, passes)
