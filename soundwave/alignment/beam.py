"""CTC prefix beam search over the token CTC: the likeliest token sequence summed over its alignments.

Greedy decoding reads the likeliest path, one frame at a time; a token whose probability is spread over several
frames, each a little below the blank's, is lost although the sequence holding it is the likelier. The prefix beam
search (Hannun et al. 2014, without a language model) keeps the `beam` likeliest prefixes, each with the probability
of all alignments ending in a blank and in its last token, and extends them by each frame's `beam` likeliest tokens:

    log-probs (T, V) --top `beam` per frame--> FrameCandidates (T, beam) --frame by frame--> prefixes, best first

Live captions decode each settled stretch this way (`soundwave.inference.live`, docs/live.md). The cost is bounded by
T x beam x beam extensions, whatever the vocabulary.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

import numpy as np
import torch

MAX_BEAM = 64  # prefixes and candidates a frame: beyond it the search costs far more and finds no better


@dataclass(frozen=True)
class FrameCandidates:
    """A CTC posterior pruned for beam search: each frame's likeliest tokens and the blank's log-probability.

    Attributes:
        ids: (T, k) token ids, likeliest first.
        log_probs: (T, k) their log-probabilities.
        blank: (T,) the blank's log-probability.
    """

    ids: np.ndarray
    log_probs: np.ndarray
    blank: np.ndarray

    @classmethod
    def of(cls, logits: torch.Tensor, blank_id: int, k: int) -> FrameCandidates:
        """From CTC logits (T, V): the k likeliest tokens a frame (the blank may be one of them)."""
        log_probs = logits.float().log_softmax(-1)  # (T, V)
        top = log_probs.topk(min(k, log_probs.shape[-1]), dim=-1)  # (T, k)
        return cls(top.indices.cpu().numpy(), top.values.cpu().numpy(), log_probs[:, blank_id].cpu().numpy())

    def __len__(self) -> int:
        return self.blank.shape[0]

    def frames(self, first: int, last: int) -> FrameCandidates:
        """Frames [first, last)."""
        return FrameCandidates(self.ids[first:last], self.log_probs[first:last], self.blank[first:last])


def prefix_beam_search(frames: FrameCandidates, blank_id: int, beam: int) -> list[tuple[tuple[int, ...], float]]:
    """The `beam` likeliest token sequences over `frames`, each with its log-probability (summed over its alignments
    through the candidates), best first. beam=1 keeps one prefix: close to, but not always, the greedy path.

    Raises:
        ValueError: beam outside 1..MAX_BEAM.
    """
    if not 1 <= beam <= MAX_BEAM:
        raise ValueError(f"beam must lie within 1..{MAX_BEAM}, got {beam}")
    prefixes: dict[tuple[int, ...], tuple[float, float]] = {(): (0.0, -np.inf)}  # -> (log P ..blank, log P ..last)
    for t in range(len(frames)):
        step: dict[tuple[int, ...], list[float]] = defaultdict(lambda: [-np.inf, -np.inf])
        blank = float(frames.blank[t])
        candidates = [(int(i), float(p)) for i, p in zip(frames.ids[t], frames.log_probs[t], strict=True)]
        for prefix, (ends_blank, ends_last) in prefixes.items():
            either = np.logaddexp(ends_blank, ends_last)
            stays = step[prefix]
            stays[0] = np.logaddexp(stays[0], either + blank)
            for token, log_prob in candidates:
                if token == blank_id:
                    continue
                grown = step[(*prefix, token)]
                if prefix and prefix[-1] == token:  # a repeat: the same run, or a new token after a blank
                    stays[1] = np.logaddexp(stays[1], ends_last + log_prob)
                    grown[1] = np.logaddexp(grown[1], ends_blank + log_prob)
                else:
                    grown[1] = np.logaddexp(grown[1], either + log_prob)
        ranked = sorted(step.items(), key=lambda item: -np.logaddexp(*item[1]))[:beam]
        prefixes = {prefix: (scores[0], scores[1]) for prefix, scores in ranked}
    return [(prefix, float(np.logaddexp(*scores))) for prefix, scores in prefixes.items()]
