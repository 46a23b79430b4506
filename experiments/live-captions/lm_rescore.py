"""The final captions read again by a CTC prefix beam search, with and without the LLM as a text LM (#37's WER gap).

Each settled stretch (old frontier to new, in the window that settled it) is decoded again by a CTC prefix beam
search over the token CTC (top-k tokens a frame); its n-best are scored by CTC log-prob + W x the LLM read as a text
LM (after the last C final words) + B x words, and the best replaces the greedy caption.

    python experiments/live-captions/lm_rescore.py --seconds 60 -1 0 0.3:8 0:0:0:4:4 0:0:0:16:8

Variants W[:C[:B[:beam[:top_k[:S]]]]] (-1: the greedy captions; 0: the beam search alone). Measured on the first 63 s
of bench/live.py's LibriVox stream (offline greedy transcription 30.8 %), 2-core CPU shared with a training: greedy
captions 36.6 %; beam search alone 35.5 % for beam/top-k 4/4, 8/8 and 16/8 (rescoring 1.4-2.6 s of compute over
the 63 s); with the text LM (W 0.3, 8 words of context) 39.0 % and 150x the compute. The beam search alone entered
the library as an option (`soundwave.alignment.beam`, `LiveStream(beam=4)`; off by default, docs/live.md); the text
LM was dropped. (The experiment ran with the beam search written here; it now calls the library's, the same
algorithm.) The spelling CTC as a second scorer of the n-best (6th field S: + S x its log-likelihood of each text
over the stretch, `spelling_log_likelihood`; beam and top-k 8): S 0.3 36.1 %, worse than the beam alone (35.5 %),
also dropped.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).parent))
import variants  # noqa: E402  (loads bench/live.py as variants.bench)
from repair import SPELL_SAMPLES, encode, remember_encodings  # noqa: E402  (the window's encoding kept with it)

import soundwave.inference.live as live  # noqa: E402
from soundwave.alignment.beam import FrameCandidates, prefix_beam_search  # noqa: E402
from soundwave.alignment.greedy import words_text  # noqa: E402
from soundwave.decoding.word_repair import TextLM, spelling_log_likelihood  # noqa: E402
from soundwave.inference.pipeline import Pipeline  # noqa: E402

PLAIN_ADVANCE = live.LiveStream._advance
STATE: dict = {"weight": -1.0, "context": 0, "bonus": 0.0, "beam": 8, "top_k": 8, "spell": 0.0}
STATE.update(history=[], seconds=0.0)


def advance(self, end, final=False):
    """The library's events, each final's text chosen again from its stretch's n-best."""
    since = self._frontier
    events = PLAIN_ADVANCE(self, end, final)
    if STATE["weight"] < 0:
        return events
    started = time.perf_counter()
    out = []
    for event in events:
        if event.type != "final":
            out.append(event)
            continue
        window = self._last
        logits = window.encoding.ctc_logits[0].float()  # (T, V)
        first = max(round(since * 16000 - window.start) // live.FRAME_SAMPLES, 0)
        last = min(round(self._frontier * 16000 - window.start) // live.FRAME_SAMPLES, logits.shape[0])
        text = event.text
        if last > first:
            frames = FrameCandidates.of(logits[first:last], self._blank, STATE["top_k"])
            nbest = prefix_beam_search(frames, self._blank, STATE["beam"])
            texts = [words_text(ids, self._texts) for ids, _ in nbest]
            scores = torch.tensor([score for _, score in nbest])
            if STATE["weight"] > 0:
                before = " ".join(STATE["history"][-STATE["context"] :]) if STATE["context"] else ""
                scores = scores + STATE["weight"] * STATE["lm"]([f"{before} {t}".strip() for t in texts])
            scores = scores + STATE["bonus"] * torch.tensor([len(t.split()) for t in texts])
            if STATE["spell"] > 0:
                encoding = window.encoding
                with torch.inference_mode():
                    lengths = encoding.frame_lengths[:1]
                    spelling = self.pipe.model.spelling_logits(encoding.frames[:1], lengths)[0, : int(lengths[0])]
                lo = max(round(since * 16000 - window.start) // SPELL_SAMPLES, 0)
                hi = min(round(self._frontier * 16000 - window.start) // SPELL_SAMPLES, spelling.shape[0])
                if hi > lo:
                    heard = spelling_log_likelihood(spelling[lo:hi].float().log_softmax(-1), texts)
                    scores = scores + STATE["spell"] * torch.nan_to_num(heard, neginf=-1e4)
            text = texts[int(scores.argmax())] or event.text
        STATE["history"] += text.split()
        out.append(live.Event("final", text, event.start, event.end))
    STATE["seconds"] += time.perf_counter() - started
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument(
        "variants",
        nargs="+",
        help="W[:C[:B[:beam[:top_k[:S]]]]]: LM weight (-1: none, 0: beam alone), context, bonus, beam, top k, spelling",
    )
    args = parser.parse_args()
    pipe = Pipeline.from_pretrained("soundwave-mini")
    remember_encodings(pipe)
    live.LiveStream._encode, live.LiveStream._advance = encode, advance
    STATE["lm"] = TextLM(pipe.model.llm, pipe.tokenizer)
    bench = variants.bench
    wave, used = bench.recording(args.seconds)
    samples = bench.read_manifest(bench.CLIPS).samples
    reference = " ".join(samples[index].transcript for index, _ in used)
    for variant in args.variants:
        weight, context, bonus, beam, top_k, spell = ([*variant.split(":"), "0", "0", "8", "8", "0"])[:6]
        STATE["spell"] = float(spell)
        STATE.update(weight=float(weight), context=int(context), bonus=float(bonus), history=[], seconds=0.0)
        STATE.update(beam=int(beam), top_k=int(top_k))
        out = bench.stream(pipe, wave, {})
        finals = " ".join(event.text for event, _ in out["events"] if event.type == "final")
        print(
            json.dumps(
                {
                    "variant": variant,
                    "wer": bench.score(reference, finals),
                    "compute_s": round(out["compute_s"], 1),
                    "rescore_s": round(STATE["seconds"], 1),
                    "audio_s": round(wave.shape[0] / 16000, 1),
                }
            ),
            flush=True,
        )


if __name__ == "__main__":
    main()
