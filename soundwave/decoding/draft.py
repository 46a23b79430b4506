"""The CTC draft for speculative decoding (`soundwave/model/speculative.py`): what the alignment adapter's CTC
heard, in the LLM's own vocabulary, per prompt row.

    token CTC logits per window (W, T, V) --argmax, merge repeats, drop blanks, join a recording's windows-->
    draft ids per prompt row
"""

from __future__ import annotations

from soundwave.decoding.ctc_prefix import row_windows
from soundwave.decoding.rescorer import DecodeContext
from soundwave.model.speculative import collapse_ctc


def ctc_drafts(context: DecodeContext) -> list[list[int]]:
    """Each prompt row's CTC transcript ids (rows with no or several recordings draft nothing)."""
    audio, batch = context.audio, context.batch
    best = audio.ctc_logits.argmax(dim=-1)  # (W, T, V) -> (W, T): the argmax needs no softmax
    heard = [collapse_ctc(best[w], int(audio.ctc_lengths[w]), context.model.blank_id) for w in range(len(best))]
    rows = row_windows(batch.get("windows_per_item"), batch.get("audios_per_row"), len(heard), context.rows)
    return [[t for w in windows for t in heard[w]] if windows is not None else [] for windows in rows]
