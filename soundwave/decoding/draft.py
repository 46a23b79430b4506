"""The CTC draft for speculative decoding (`soundwave/model/speculative.py`): what the alignment adapter's CTC
heard, in the LLM's own vocabulary, per prompt row.

    token CTC logits per window (W, T, V) --argmax, merge repeats, drop blanks, join a recording's windows-->
    draft ids per prompt row
"""

from __future__ import annotations

import itertools

from soundwave.decoding.rescorer import DecodeContext
from soundwave.model.speculative import collapse_ctc


def ctc_drafts(context: DecodeContext) -> list[list[int]]:
    """Each prompt row's CTC transcript ids (rows with no or several recordings draft nothing)."""
    audio, batch = context.audio, context.batch
    best = audio.ctc_logits.argmax(dim=-1)  # (W, T, V) -> (W, T): the argmax needs no softmax
    heard = [collapse_ctc(best[w], int(audio.ctc_lengths[w]), context.model.blank_id) for w in range(len(best))]
    windows = batch.get("windows_per_item")
    windows = windows.tolist() if windows is not None else [1] * len(heard)
    starts = [0, *itertools.accumulate(windows)]  # first window of each recording
    per_row = batch.get("audios_per_row")
    per_row = per_row.tolist() if per_row is not None else [1] * context.rows
    drafts, recording = [], 0
    for count in per_row:
        if count == 1:
            drafts.append([t for w in range(starts[recording], starts[recording + 1]) for t in heard[w]])
        else:
            drafts.append([])
        recording += count
    return drafts
