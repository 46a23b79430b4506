"""Word repair's text-LM weight and word merging, swept on the transcripts an eval run already decoded (no
decoding again).

    python bench/word_repair.py runs/sweep-4b/dev-voices-ctc0.25-spell0.45 --model soundwave-mini \
        --weights 0,0.5,1,2 --merge off,on

Reads the run's `utterances.jsonl` (hypotheses, references, audio paths), computes each clip's spelling CTC once,
and repairs the hypotheses (`soundwave/inference/word_repair.py`) at each weight, with and without joining
split words (`merge`); text-LM scores are cached per
sentence. Prints one line per setting: WER before / after, with the same Whisper normalizer as `soundwave eval`.
Equal to decoding with `--word-repair W` (the repair runs after decoding and sees only the text and the audio).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch
from tqdm import tqdm

from soundwave.audio import load_audio
from soundwave.eval.metrics import wer
from soundwave.eval.normalize import normalize_text
from soundwave.inference.lexicon import Lexicon
from soundwave.inference.pipeline import Pipeline
from soundwave.inference.word_repair import TextLM, repair_words, sentence_scorer


class CachedLM:
    """TextLM scores remembered per sentence (the weights of a sweep score many of the same sentences)."""

    def __init__(self, lm: TextLM) -> None:
        self.lm, self.seen = lm, {}

    def __call__(self, sentences: list[str]) -> torch.Tensor:
        new = [s for s in dict.fromkeys(sentences) if s not in self.seen]
        if new:
            self.seen.update(zip(new, self.lm(new).tolist(), strict=True))
        return torch.tensor([self.seen[s] for s in sentences])


@torch.inference_mode()
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("run", type=Path, help="an eval output folder (its utterances.jsonl)")
    parser.add_argument("--model", default="soundwave-mini")
    parser.add_argument("--weights", default="0,0.5,1,2", help="text-LM weights, comma-separated")
    parser.add_argument("--merge", default="off,on", help="join split words: off, on or both (off,on)")
    args = parser.parse_args()

    rows = [json.loads(line) for line in (args.run / "utterances.jsonl").open()]
    weights = [float(w) for w in args.weights.split(",")]
    merges = [{"off": False, "on": True}[m] for m in args.merge.split(",")]
    settings = [(w, m) for w in weights for m in merges]
    pipe = Pipeline.from_pretrained(args.model)
    lm, lexicon = CachedLM(TextLM(pipe.model.llm, pipe.tokenizer)), Lexicon.from_file()
    repaired: dict[tuple[float, bool], list[str]] = {s: [] for s in settings}
    for row in tqdm(rows, desc="repair", unit="clip"):
        audio = pipe.processor.audio_batch([load_audio(row["audio"])])
        frames, lengths = pipe.model.encode_frames(audio.audios, audio.audio_lengths)
        log_probs = pipe.model.spelling_logits(frames, lengths)[0, : int(lengths[0])].float().log_softmax(-1)
        for weight, merge in settings:
            score = sentence_scorer(log_probs, lm, weight)
            repaired[weight, merge].append(repair_words(row["hypothesis"], score, lexicon, merge=merge))
    references = [normalize_text(r["reference"]) for r in rows]
    before = wer(references, [normalize_text(r["hypothesis"]) for r in rows])
    for weight, merge in settings:
        after = wer(references, [normalize_text(h) for h in repaired[weight, merge]])
        name = f"lm weight {weight}, merge {'on' if merge else 'off'}"
        print(f"{args.run.name}: {name}: WER {100 * before:.2f} % -> {100 * after:.2f} %", flush=True)


if __name__ == "__main__":
    main()
