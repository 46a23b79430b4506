"""Word repair's settings swept on the transcripts an eval run already decoded (no decoding again).

    python experiments/mini/bench/word_repair.py runs/s21/dev-greedy --model soundwave-mini \
        --weights 0,0.5,1 --speech-weights 0,0.5,1 --merge on --span 2,3

Reads the run's `utterances.jsonl` (hypotheses, references, prompts, audio paths), encodes each clip once (its
spelling CTC and its prompt as the LLM reads it) and repairs the hypotheses (`soundwave/inference/word_repair.py`)
under every setting: the text LM's weight (`--word-repair`), the speech LLM's (`--word-repair-speech`), joining
split words (`merge`, up to `span` words), trying edits of lexicon words too (`real_distance`, `real_margin`).
LM scores are cached per sentence. Prints one line per setting: WER before / after, with the same Whisper normalizer
as `soundwave eval`. Equal to decoding with those flags (the repair runs after decoding and sees only the text,
the prompt and the audio).
"""

from __future__ import annotations

import argparse
import itertools
import json
from pathlib import Path

import torch
from tqdm import tqdm

from soundwave.audio import load_audio
from soundwave.decoding.lexicon import Lexicon
from soundwave.decoding.word_repair import SpeechLM, TextLM, cached, repair_words, sentence_scorer
from soundwave.eval.metrics import wer
from soundwave.eval.normalize import normalize_text
from soundwave.inference.pipeline import Item, Pipeline


def numbers(text: str, kind=float) -> list:
    return [kind(x) for x in text.split(",")]


@torch.inference_mode()
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("run", type=Path, help="an eval output folder (its utterances.jsonl)")
    parser.add_argument("--model", default="soundwave-mini")
    parser.add_argument("--weights", default="0,0.5,1,2", help="text-LM weights, comma-separated")
    parser.add_argument("--speech-weights", default="0", help="speech-LLM weights, comma-separated")
    parser.add_argument("--merge", default="off,on", help="join split words: off, on or both (off,on)")
    parser.add_argument("--span", default="3", help="most words joined into one (with merge), comma-separated")
    parser.add_argument("--real-distance", default="0", help="edits tried on lexicon words (0: off), comma-separated")
    parser.add_argument("--real-margin", default="0", help="score a lexicon word's replacement must win by")
    parser.add_argument("--candidates", default="8", help="nearby lexicon words tried per word, comma-separated")
    parser.add_argument("--pool", default="0", help="nearby words shortlisted by the spelling CTC, comma-separated")
    parser.add_argument("--limit", type=int, help="only the first N clips")
    args = parser.parse_args()

    rows = [json.loads(line) for line in (args.run / "utterances.jsonl").open()][: args.limit]
    grid = {
        "lm_weight": numbers(args.weights),
        "speech_weight": numbers(args.speech_weights),
        "merge": [{"off": False, "on": True}[m] for m in args.merge.split(",")],
        "span": numbers(args.span, int),
        "real_distance": numbers(args.real_distance, int),
        "real_margin": numbers(args.real_margin),
        "candidates": numbers(args.candidates, int),
        "pool": numbers(args.pool, int),
    }
    settings = [dict(zip(grid, values, strict=True)) for values in itertools.product(*grid.values())]
    pipe = Pipeline.from_pretrained(args.model)
    config = pipe.generation.with_overrides(greedy=True, max_new_tokens=1)
    text_lm, lexicon = cached(TextLM(pipe.model.llm, pipe.tokenizer)), Lexicon.from_file()
    repaired: list[list[str]] = [[] for _ in settings]
    for row in tqdm(rows, desc="repair", unit="clip"):
        wave = load_audio(row["audio"])
        batch = pipe._inputs([(0, Item(wave, row["prompt"]), wave)], config)
        audio = pipe._check_context(batch, config, [(0, None, wave)])
        logits = pipe.model.spelling_logits(audio.frames, audio.frame_lengths)  # (1, T, C)
        log_probs = logits[0, : int(audio.frame_lengths[0])].float().log_softmax(-1)  # (T, C)
        embeds, keys = pipe._prompt_embeds(batch, audio)[0]
        speech_lm = cached(SpeechLM(pipe.model.llm, pipe.tokenizer, embeds, pipe.eos_token_id, keys))
        for setting, out in zip(settings, repaired, strict=True):
            weights = {k: setting[k] for k in ("lm_weight", "speech_weight")}
            score = sentence_scorer(log_probs, text_lm, speech_lm=speech_lm, **weights)
            options = {k: v for k, v in setting.items() if k not in weights}
            out.append(repair_words(row["hypothesis"], score, lexicon, **options))
    references = [normalize_text(r["reference"]) for r in rows]
    before = wer(references, [normalize_text(r["hypothesis"]) for r in rows])
    for setting, out in zip(settings, repaired, strict=True):
        after = wer(references, [normalize_text(h) for h in out])
        name = ", ".join(f"{k} {v}" for k, v in setting.items())
        print(f"{args.run.name}: {name}: WER {100 * before:.2f} % -> {100 * after:.2f} %", flush=True)


if __name__ == "__main__":
    main()
