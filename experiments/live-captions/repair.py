"""Word repair on the final captions, tried for #37's WER gap (dropped): each settled stretch's non-words replaced by
nearby lexicon words, scored by the spelling CTC over that stretch (+ W x the LLM read as a text LM, with the last
C final words before it as context; `soundwave.decoding.word_repair`).

    python experiments/live-captions/repair.py --seconds 60 -1 0 0.5:0 0.5:8     # -1: the library's captions

Measured (the first 63 s of bench/live.py's LibriVox stream, 2-core CPU shared with a training, so times are only
relative): WER of the final captions 36.6 % for every variant (-1, 0, 0.5:0, 0.5:8): the captions' errors are real
words ("had then lead to", "is is") that a non-word repair never touches. The spelling CTC alone is no way out
either: greedy over the five whole clips 59.2 % WER against the token CTC's 42.3 % (it hears more of each word,
"cold heartet", "respectble", but spells most of them wrong).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).parent))
import variants  # noqa: E402  (loads bench/live.py as variants.bench)

import soundwave.inference.live as live  # noqa: E402
from soundwave.decoding.lexicon import Lexicon  # noqa: E402
from soundwave.decoding.word_repair import TextLM, cached, repair_words, spelling_log_likelihood  # noqa: E402
from soundwave.inference.pipeline import Pipeline  # noqa: E402

SPELL_SAMPLES = 320  # one spelling-CTC frame (an encoder frame, 20 ms)
PLAIN_ENCODE, PLAIN_ADVANCE = live.LiveStream._encode, live.LiveStream._advance
STATE: dict = {"weight": -1.0, "context": 0, "history": []}


def remember_encodings(pipe) -> None:
    """Keep the encoding of each window the stream asks `pipe` for in STATE (for `encode`)."""
    plain = pipe.encode

    def remembering(wave, **options):
        STATE["encoding"] = plain(wave, **options)
        return STATE["encoding"]

    pipe.encode = remembering


def encode(self, end):
    """The library's window, plus the encoding it came from (for the spelling CTC; needs `remember_encodings`)."""
    window = PLAIN_ENCODE(self, end)
    object.__setattr__(window, "encoding", STATE["encoding"])
    return window


def advance(self, end, final=False):
    """The library's events, each final's text repaired over the stretch it settled."""
    since = self._frontier
    events = PLAIN_ADVANCE(self, end, final)
    if STATE["weight"] < 0:
        return events
    repaired = []
    for event in events:
        if event.type != "final":
            repaired.append(event)
            continue
        window, lm = self._last, STATE["lm"]
        encoding = window.encoding
        with torch.inference_mode():
            lengths = encoding.frame_lengths[:1]
            logits = self.pipe.model.spelling_logits(encoding.frames[:1], lengths)[0, : int(lengths[0])]
        log_probs = logits.float().log_softmax(-1)  # (T, C)
        first = max(round(since * 16000 - window.start) // SPELL_SAMPLES, 0)
        last = min(round(self._frontier * 16000 - window.start) // SPELL_SAMPLES, log_probs.shape[0])
        stretch = log_probs[first:last]
        before = " ".join(STATE["history"][-STATE["context"] :]) if STATE["context"] else ""

        def score(sentences, stretch=stretch, before=before, lm=lm):
            total = spelling_log_likelihood(stretch, sentences)
            if STATE["weight"] > 0:
                total = total + STATE["weight"] * lm([f"{before} {s}".strip() for s in sentences])
            return total

        text = repair_words(event.text, score, STATE["lexicon"]) if stretch.shape[0] else event.text
        STATE["history"] += text.split()
        repaired.append(live.Event("final", text, event.start, event.end))
    return repaired


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("variants", nargs="+", help="W[:C]: LM weight (-1: no repair, 0: spelling CTC only), context")
    args = parser.parse_args()
    pipe = Pipeline.from_pretrained("soundwave-mini")
    remember_encodings(pipe)
    live.LiveStream._encode, live.LiveStream._advance = encode, advance
    STATE.update(lexicon=Lexicon.from_file(), lm=cached(TextLM(pipe.model.llm, pipe.tokenizer)))
    bench = variants.bench
    wave, used = bench.recording(args.seconds)
    samples = bench.read_manifest(bench.CLIPS).samples
    reference = " ".join(samples[index].transcript for index, _ in used)
    for variant in args.variants:
        weight, _, context = variant.partition(":")
        STATE.update(weight=float(weight), context=int(context or 0), history=[])
        out = bench.stream(pipe, wave, {})
        finals = " ".join(event.text for event, _ in out["events"] if event.type == "final")
        print(json.dumps({"variant": variant, "wer": bench.score(reference, finals)}), flush=True)


if __name__ == "__main__":
    main()
