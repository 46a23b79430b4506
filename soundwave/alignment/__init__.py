"""Word and segment timestamps from the CTC of a Soundwave model's alignment adapter (forced alignment).

    aligner = CtcAligner(model, processor)          # or Pipeline.align / Pipeline.transcribe(timestamps="word")
    alignment = aligner.align(waveform, "the text")
    alignment.words[0].start, alignment.segments[0].text

Read in this order: `viterbi` (the forced path), `long_form` (the same, stretch by stretch, for long recordings),
`timeline` (frame times across windows), `words` (letters or tokens -> words, interpolation), `segments`, `aligner`
(the model glue, both CTC heads); then `subtitles` (SRT/VTT) and `plot`. Measured in docs/timestamps.md.
"""

from soundwave.alignment.aligner import CtcAligner, check_token_ctc, has_token_ctc
from soundwave.alignment.result import Alignment, AlignmentTrace, Segment, Word
from soundwave.alignment.viterbi import forced_align

__all__ = [
    "Alignment",
    "AlignmentTrace",
    "CtcAligner",
    "Segment",
    "Word",
    "check_token_ctc",
    "forced_align",
    "has_token_ctc",
]
