"""LoRA kept as peft layers against folded into the LLM's weights (what `Pipeline.from_pretrained` does), side by side.

    python bench/lora_merge.py [--model soundwave-mini] [--repeats 3]

Three LibriVox clips, a question, greedy (the LLM alone, no draft); medians over --repeats rounds, alternating the
two pipelines in one process; and whether their answers (and two default transcriptions) are the same text.
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

from soundwave.inference.loader import load_for_inference, resolve_model_dir
from soundwave.inference.pipeline import Pipeline

CLIPS = sorted((Path(__file__).parents[1] / "tests" / "assets" / "speech" / "librivox").glob("*.wav"))[:3]
QUESTION = "What is the speaker talking about? Answer in one sentence."
GREEDY = {"greedy": True, "num_beams": 1, "ctc_weight": 0.0, "spelling_weight": 0.0, "word_repair": 0.0,
          "word_repair_speech": 0.0, "draft": "none"}  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="soundwave-mini")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    merged = Pipeline.from_pretrained(args.model)
    model, processor = load_for_inference(resolve_model_dir(args.model))  # LoRA as peft layers
    peft = Pipeline(model, processor, merged.generation, merged.transcription)
    pipes = {"peft LoRA layers": peft, "folded in": merged}
    for pipe in pipes.values():
        pipe.generate(str(CLIPS[0]), QUESTION, **GREEDY)  # warm-up
    times: dict[str, list[float]] = {name: [] for name in pipes}
    answers: dict[str, list[str]] = {}
    for _ in range(args.repeats):
        for name, pipe in pipes.items():
            started = time.perf_counter()
            answers[name] = [pipe.generate(str(clip), QUESTION, **GREEDY).text for clip in CLIPS]
            times[name].append(time.perf_counter() - started)
    medians = {name: statistics.median(t) for name, t in times.items()}
    for name, seconds in medians.items():
        print(f"{name:18s} {seconds:.3f} s for {len(CLIPS)} answers")
    print(f"speed-up {medians['peft LoRA layers'] / medians['folded in']:.2f}x; answers identical: "
          f"{answers['peft LoRA layers'] == answers['folded in']}")  # fmt: skip
    same = [peft.transcribe(str(c)).text == merged.transcribe(str(c)).text for c in CLIPS[:2]]
    print(f"default transcriptions identical: {sum(same)}/{len(same)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
