"""Joint CTC / LLM decoding: the alignment adapter's CTC, over the LLM's own vocabulary, scores every answer prefix.

The hybrid CTC/attention decoding of Watanabe et al. (2017), with the LLM as the attention decoder. At each step
a few candidate tokens (the LLM's top `candidates` plus the tokens greedy CTC heard) get

    (1 - ctc_weight) * log p_LLM(c | prefix) + ctc_weight * (log p_CTC(prefix + c ...) - log p_CTC(prefix ...))

and every other token -inf; the end-of-turn token gets CTC's probability of the whole prefix as the transcript.
An answer can then only say what the audio holds: the LLM cannot drift into a sentence it memorized.
Only meaningful when the answer is the transcript (ASR); `ctc_weight: 0` (the default) turns it off.

    CTC log-probs (N, T, V) --prefix_extend per step--> prefix scores (R, K) --mix with LLM log-probs (R, V)
"""

from __future__ import annotations

import itertools
from typing import TYPE_CHECKING

import torch
from torch import Tensor
from transformers import LogitsProcessor

if TYPE_CHECKING:
    from soundwave.decoding.spelling_prefix import SpellingScorer

NEG_INF = float("-inf")
FLOOR = -1e4  # log-probs below it count as 0 probability (keeps the closed-form recursion finite)


def prefix_extend(
    logp: Tensor,
    lengths: Tensor,
    r_prefix: Tensor,
    last: Tensor,
    empty: Tensor,
    candidates: Tensor,
    blank_id: int,
    items: Tensor | None = None,
) -> tuple[Tensor, Tensor]:
    """CTC forward variables and prefix scores of `prefix + c` for K candidates c of R prefixes at once.

    Args:
        logp: (N, T, V) CTC log-probs of each item's audio (N = R when `items` is None).
        lengths: (R,) valid frames of each prefix's audio.
        r_prefix: (R, T, 2) log forward variables of the prefix: [..., 0] ends in a label, [..., 1] in blank.
        last: (R,) the prefix's last token (any value where `empty`).
        empty: (R,) the prefix has no tokens yet.
        candidates: (R, K) token ids to extend by.
        blank_id: the CTC blank.
        items: (R,) the item (row of `logp`) each prefix answers; None: row r answers item r. Only the candidates'
            columns are read, so many prefixes of one item cost no copy of its (T, V) log-probs.

    Returns:
        r (R, K, T, 2) forward variables of each extension, psi (R, K) log p(extension is a prefix of the transcript).

    The recursion over frames (Watanabe et al. 2017, Algorithm 2)

        r[t, label] = (r[t-1, label] + phi[t-1]) * x_c[t]
        r[t, blank] = (r[t-1, label] + r[t-1, blank]) * x_blank[t]

    is linear in each variable, so it is solved in closed form with cumulative sums (`linear_recurrence`) rather
    than a loop over T frames.
    """
    frames, vocab = logp.shape[1:]
    items = items if items is not None else torch.arange(candidates.shape[0], device=logp.device)
    time = torch.arange(frames, device=logp.device)
    x_c = logp[items[:, None, None], time[None, None, :], candidates.clamp(max=vocab - 1)[..., None]]  # (R, K, T)
    x_c = x_c.double().clamp(min=FLOOR)
    never = (candidates >= vocab) | (candidates == blank_id)  # LLM-only ids (past CTC's vocabulary), the blank
    x_blank = logp[items, :, blank_id][:, None, :].double().clamp(min=FLOOR)  # (R, 1, T)
    r_prefix = r_prefix.double()
    prefix_any = torch.logaddexp(r_prefix[..., 0], r_prefix[..., 1])  # (R, T)
    # phi: paths that may emit c next; a repeated label needs a blank in between
    repeats = (candidates == last[:, None]) & ~empty[:, None]  # (R, K)
    phi = torch.where(repeats[..., None], r_prefix[:, None, :, 1], prefix_any[:, None, :])  # (R, K, T)
    start = torch.where(empty[:, None], x_c[:, :, 0], NEG_INF)  # (R, K): only the empty prefix emits at frame 0
    label = linear_recurrence(start, phi[..., :-1], x_c)  # (R, K, T)
    blank = linear_recurrence(torch.full_like(start, NEG_INF), label[..., :-1], x_blank.expand_as(x_c))
    r = torch.stack([label, blank], dim=-1).masked_fill(never[..., None, None], NEG_INF)  # (R, K, T, 2)
    valid = time[None, 1:] < lengths[:, None]  # (R, T - 1): frames 1..T-1
    steps = (phi[..., :-1] + x_c[..., 1:]).masked_fill(~valid[:, None, :], NEG_INF)  # (R, K, T - 1)
    psi = torch.logaddexp(start, torch.logsumexp(steps, dim=-1)).masked_fill(never, NEG_INF)  # (R, K)
    return r.to(logp.dtype), psi.to(logp.dtype)


def linear_recurrence(first: Tensor, inputs: Tensor, factors: Tensor) -> Tensor:
    """y[0] = first, y[t] = logaddexp(y[t-1], inputs[t-1]) + factors[t] for t >= 1, in log space, without a loop.

    Args:
        first: (...,) y[0]; inputs: (..., T - 1); factors: (..., T), finite (`FLOOR`-clamped), float64.

    Returns:
        (..., T) y. With F = cumsum(factors): y[t] - F[t] = logcumsumexp of [first - F[0], inputs[s] - F[s] (s < t)];
        float64 keeps the cancellation of the large cumulative sums exact to ~1e-9 over thousands of frames.
    """
    cumulative = factors.cumsum(dim=-1)  # (..., T)
    terms = torch.cat([(first - cumulative[..., 0])[..., None], inputs - cumulative[..., :-1]], dim=-1)  # (..., T)
    return cumulative + terms.logcumsumexp(dim=-1)


def empty_prefix(logp: Tensor, blank_id: int) -> Tensor:
    """(R, T, 2) forward variables of the empty prefix: all blanks so far."""
    r = torch.full((*logp.shape[:2], 2), NEG_INF, dtype=logp.dtype, device=logp.device)
    r[..., 1] = torch.cumsum(logp[:, :, blank_id], dim=1)
    return r


def per_row_log_probs(
    ctc_logits: Tensor,
    ctc_lengths: Tensor,
    windows_per_item: Tensor | None,
    audios_per_row: Tensor | None,
    rows: int,
) -> tuple[Tensor, Tensor, Tensor]:
    """Each prompt row's CTC log-probs: the valid frames of its recording's windows, joined in time.

    Args:
        ctc_logits: (W, T, V) per window; ctc_lengths: (W,) valid frames.
        windows_per_item: (N,) windows per recording (None: one each).
        audios_per_row: (B,) recordings per row (None: one each).
        rows: B.

    Returns:
        log-probs (B, T', V), lengths (B,), active (B,): rows with exactly one recording (others get no CTC).
    """
    pieces, active = [], []
    for windows in row_windows(windows_per_item, audios_per_row, ctc_logits.shape[0], rows):
        if windows is not None:
            pieces.append(torch.cat([ctc_logits[w, : int(ctc_lengths[w])] for w in windows]))
        else:
            pieces.append(ctc_logits[:1, :1][0])  # (1, V) placeholder; the row is inactive
        active.append(windows is not None)
    lengths = torch.tensor([len(p) for p in pieces])
    log_probs = torch.nn.utils.rnn.pad_sequence(pieces, batch_first=True).float().log_softmax(dim=-1)  # (B, T', V)
    return log_probs, lengths, torch.tensor(active)


def row_windows(
    windows_per_item: Tensor | None, audios_per_row: Tensor | None, n_windows: int, rows: int
) -> list[range | None]:
    """The windows of each prompt row's recording, in time order; None for a row with no or several recordings.

    Args:
        windows_per_item: (N,) windows per recording (None: one each); n_windows: W, all windows of the batch.
        audios_per_row: (B,) recordings per row (None: one each); rows: B.
    """
    windows = windows_per_item.tolist() if windows_per_item is not None else [1] * n_windows
    per_row = audios_per_row.tolist() if audios_per_row is not None else [1] * rows
    starts = [0, *itertools.accumulate(windows)]  # first window of each recording
    out, recording = [], 0
    for count in per_row:
        out.append(range(starts[recording], starts[recording + 1]) if count == 1 else None)
        recording += count
    return out


def with_blank_penalty(log_probs: Tensor, blank_id: int, penalty: float) -> Tensor:
    """(..., V) CTC log-probs with `penalty` taken off the blank's, renormalized; unchanged when it is 0."""
    if penalty == 0:
        return log_probs
    shifted = log_probs.clone()
    shifted[..., blank_id] -= penalty
    return shifted.log_softmax(dim=-1)


def full_score(r: Tensor, lengths: Tensor) -> Tensor:
    """(R,) log p(the prefix is the whole transcript), from its forward variables (R, T, 2) at the last frame."""
    last = (lengths - 1).clamp(min=0)
    at_end = r[torch.arange(r.shape[0], device=r.device), last]  # (R, 2)
    return torch.logaddexp(at_end[:, 0], at_end[:, 1])


def heard_nothing(logits: Tensor, lengths: Tensor, blank_id: int) -> Tensor:
    """(N, T, C) CTC logits (or log-probs), (N,) valid frames -> (N,) bool: the best path is all blank.

    Joint decoding ends such an answer before it starts (`CTCPrefixScorer`'s `silent`): over many frames of
    silence CTC's small non-blank mass adds up, so the prefix scores of any words beat the one all-blank path of
    the empty answer and the LLM's own invention would go through.
    """
    frames = torch.arange(logits.shape[1], device=logits.device)[None]  # (1, T)
    blank = (logits.argmax(dim=-1) == blank_id) | (frames >= lengths.to(logits.device)[:, None])  # (N, T)
    return blank.all(dim=1).cpu()


class CTCPrefixScorer(LogitsProcessor):
    """A transformers logits processor for joint CTC / LLM decoding (greedy or beam search).

    Args:
        ctc_log_probs: (N, T, V) log-softmax of the CTC logits, one row per generated answer (item).
        ctc_lengths: (N,) valid frames per item.
        blank_id: the CTC blank.
        eos_token_ids: tokens that end the answer.
        weight: ctc_weight in (0, 1].
        candidates: LLM top-k tokens scored by CTC per step (the greedy CTC tokens are always added).
        num_beams: hypotheses per item (rows of `input_ids` are item-major).
        active: (N,) bool, items CTC applies to (others decode as if the processor were absent).
        blank_penalty: subtracted from the blank's log-prob before renormalizing (`with_blank_penalty`): > 0 makes
            CTC hear more tokens where it is unsure, against its deletions.
        length_bonus: added to the joint score of every token but the end: > 0 makes answers longer.
        spelling: the spelling CTC's scorer (`spelling_prefix.py`), which also proposes the tokens that spell what
            it heard next; spelling_weight: its weight (the LLM's: 1 - weight - spelling_weight).
        silent: (N,) bool, items whose CTC heard nothing (`heard_nothing`): their answer ends at once (empty).
    """

    def __init__(
        self,
        ctc_log_probs: Tensor,
        ctc_lengths: Tensor,
        blank_id: int,
        eos_token_ids: list[int],
        weight: float,
        candidates: int = 8,
        num_beams: int = 1,
        active: Tensor | None = None,
        blank_penalty: float = 0.0,
        length_bonus: float = 0.0,
        spelling: SpellingScorer | None = None,
        spelling_weight: float = 0.0,
        silent: Tensor | None = None,
    ) -> None:
        if not 0 <= weight <= 1 or not 0 <= spelling_weight <= 1 or not 0 < weight + spelling_weight <= 1:
            raise ValueError(
                "ctc_weight and spelling_weight must be in [0, 1] with a sum in (0, 1], "
                f"got {weight}, {spelling_weight}"
            )
        if spelling_weight > 0 and spelling is None:
            raise ValueError("spelling_weight > 0 needs the spelling CTC's scores (a model with a spelling head)")
        self.spelling, self.spelling_weight = spelling, spelling_weight
        self.logp = with_blank_penalty(ctc_log_probs.float(), blank_id, blank_penalty)
        self.length_bonus = length_bonus
        self.lengths = ctc_lengths.to(self.logp.device)
        self.blank_id, self.eos = blank_id, list(eos_token_ids)
        self.weight, self.candidates, self.num_beams = weight, candidates, num_beams
        self.active = active if active is not None else torch.ones(self.logp.shape[0], dtype=torch.bool)
        self.silent = silent if silent is not None else torch.zeros(self.logp.shape[0], dtype=torch.bool)
        self.heard = self._heard_tokens()  # (N, H) greedy CTC tokens per item, blank-padded
        self.states: dict[tuple, tuple[Tensor, Tensor]] = {}  # (item, prefix) -> (r (T, 2), psi)

    def _heard_tokens(self) -> Tensor:
        best = self.logp.argmax(dim=-1)  # (N, T)
        rows = []
        for item in range(best.shape[0]):
            ids = best[item, : int(self.lengths[item])].unique()
            rows.append(ids[ids != self.blank_id])
        width = max([1, *(len(r) for r in rows)])
        heard = torch.full((len(rows), width), self.blank_id, dtype=torch.long)
        for item, ids in enumerate(rows):
            heard[item, : len(ids)] = ids
        return heard

    def _state(self, item: int, prefix: tuple) -> tuple[Tensor, Tensor]:
        if not prefix:
            r = empty_prefix(self.logp[item : item + 1], self.blank_id)[0]
            return r, torch.tensor(0.0)
        return self.states[(item, prefix)]

    def _known(self, item: int, prefix: tuple) -> bool:
        """Whether the prefix is one this scorer proposed (only those have a CTC state)."""
        return not prefix or (item, prefix) in self.states

    def __call__(self, input_ids: Tensor, scores: Tensor) -> Tensor:
        """input_ids (R, L) the answers so far; scores (R, V) the LLM's -> (R, V) joint scores."""
        answers = [tuple(ids) for ids in input_ids.tolist()]
        rows = [r for r, answer in enumerate(answers) if self._scores_row(r, answer)]
        dead = [r for r in rows if not self._known(r // self.num_beams, answers[r])]
        rows = [r for r in rows if r not in dead]
        if dead:  # a token CTC ruled out (score -inf), picked anyway by beam *sampling*: the beam stays dead
            scores = scores.clone()
            scores[dead] = NEG_INF
        if not rows:
            return scores
        llm = scores[rows].float().log_softmax(dim=-1)  # (R', V); beam search already passes log-probs: idempotent
        items = torch.tensor([r // self.num_beams for r in rows])
        prefixes = [answers[r] for r in rows]
        states = [self._state(int(i), p) for i, p in zip(items, prefixes, strict=True)]
        r_prefix = torch.stack([s[0] for s in states])  # (R', T, 2)
        psi_prefix = torch.stack([s[1] for s in states])  # (R',)
        top = llm.topk(min(self.candidates, llm.shape[1]), dim=-1).indices  # (R', k)
        heard = self.heard[items]
        heard = torch.where(heard == self.blank_id, top[:, :1], heard)  # padding: a duplicate, never the blank
        cands = torch.cat([top, heard, self._spelled(items, prefixes, top)], dim=1)  # (R', K): duplicates score same
        empty = torch.tensor([not p for p in prefixes])
        last = torch.tensor([p[-1] if p else -1 for p in prefixes])
        r_new, psi = prefix_extend(
            self.logp, self.lengths[items], r_prefix, last, empty, cands, self.blank_id, items
        )  # (R', K, T, 2), (R', K)
        llm_weight = 1 - self.weight - self.spelling_weight
        joint = llm_weight * llm.gather(1, cands) + self.length_bonus  # (R', K)
        ends = llm_weight * llm[:, self.eos]  # (R', E)
        if self.weight > 0:  # (0 x -inf would be nan)
            joint = joint + self.weight * (psi - psi_prefix[:, None])
            ends = ends + self.weight * (full_score(r_prefix, self.lengths[items]) - psi_prefix)[:, None]
        if self.spelling_weight > 0:
            spell_delta, spell_end = self.spelling.score(items.tolist(), prefixes, cands)  # (R', K), (R',)
            joint = joint + self.spelling_weight * spell_delta
            ends = ends + self.spelling_weight * spell_end[:, None]
        mixed = torch.full((len(rows), llm.shape[1]), NEG_INF)
        mixed = mixed.scatter(1, cands, joint.nan_to_num(nan=NEG_INF)).index_copy(
            1, torch.tensor(self.eos), ends.nan_to_num(nan=NEG_INF)
        )
        quiet = self.silent[items] & empty  # (R',) nothing heard: the answer ends before it starts
        mixed[quiet] = torch.full_like(mixed[0], NEG_INF).index_fill(0, torch.tensor(self.eos), 0.0)
        lost = torch.isinf(mixed).all(dim=1)  # CTC rules out every candidate: the LLM decides alone
        mixed[lost] = llm[lost]
        out = scores.float().clone()
        out[rows] = mixed
        self.states = {  # only the extensions scored now can be the next step's prefixes
            (int(i), (*p, int(c))): (r_new[n, k], psi[n, k])
            for n, (i, p) in enumerate(zip(items, prefixes, strict=True))
            for k, c in enumerate(cands[n].tolist())
        }
        return out.to(scores.dtype)

    def _spelled(self, items: Tensor, prefixes: list[tuple], top: Tensor) -> Tensor:
        """(R', S) tokens that spell what the spelling CTC heard next (padded with the LLM's top token)."""
        if self.spelling_weight <= 0:
            return top[:, :0]
        found = [self.spelling.candidates(int(i), p) for i, p in zip(items, prefixes, strict=True)]
        width = max([1, *(len(f) for f in found)])
        out = top[:, :1].repeat(1, width)
        for row, ids in enumerate(found):
            out[row, : len(ids)] = torch.tensor(ids, dtype=out.dtype)
        return out

    def _scores_row(self, row: int, answer: tuple) -> bool:
        """CTC scores a row while its item is active and its answer has not ended."""
        return bool(self.active[row // self.num_beams]) and not any(t in self.eos for t in answer)
