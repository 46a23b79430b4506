"""Did the LLM keep its intelligence? Text-only questions: base SmolLM2 vs the trained speech model's LLM (LoRA).

    python experiments/mini/bench/text_intelligence.py --model soundwave-mini \\
        --out experiments/mini/text_intelligence.md

Both answer greedily with the same system prompt; an answer counts as right when it contains the expected word
(after Whisper's English normalization).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from soundwave.eval.metrics import contains_answer
from soundwave.eval.normalize import normalize_text
from soundwave.inference.pipeline import Pipeline
from soundwave.model.lora import lora_disabled

QUESTIONS = [
    ("What is the capital of France?", "paris"),
    ("What is the capital of Japan?", "tokyo"),
    ("How many days are there in a week?", "7"),
    ("What color is the sky on a clear day?", "blue"),
    ("What is two plus three?", "5"),
    ("Which animal says meow?", "cat"),
    ("What is the opposite of hot?", "cold"),
    ("How many legs does a spider have?", "8"),
    ("What do bees make?", "honey"),
    ("What is the largest planet in our solar system?", "jupiter"),
    ("What is frozen water called?", "ice"),
    ("Which season comes after winter?", "spring"),
    ("What is the capital of Italy?", "rome"),
    ("How many hours are in a day?", "24"),
    ("What gas do plants take in from the air?", "carbon dioxide"),
    ("Who wrote Romeo and Juliet?", "shakespeare"),
    ("What is ten minus four?", "6"),
    ("What is the color of grass?", "green"),
    ("On which continent is Egypt?", "africa"),
    ("What is the boiling point of water in Celsius?", "100"),
]


def base_answers(pipe: Pipeline, questions: list[str], max_new_tokens: int) -> list[str]:
    """The same LLM with its LoRA switched off: the base SmolLM2."""
    with lora_disabled(pipe.model.llm):
        return [
            r.text
            for r in pipe.generate_batch(
                [{"audio": None, "prompt": q} for q in questions], greedy=True, max_new_tokens=max_new_tokens
            )
        ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="soundwave-mini")
    parser.add_argument("--max-new-tokens", type=int, default=32)
    parser.add_argument("--out", default=None)
    args = parser.parse_args()
    pipe = Pipeline.from_pretrained(args.model)
    questions = [q for q, _ in QUESTIONS]
    trained = [
        r.text
        for r in pipe.generate_batch(
            [{"audio": None, "prompt": q} for q in questions], greedy=True, max_new_tokens=args.max_new_tokens
        )
    ]
    base = base_answers(pipe, questions, args.max_new_tokens)
    lines = ["| question | expected | base SmolLM2 | trained (LoRA) |", "|---|---|---|---|"]
    score = {"base": 0, "trained": 0}
    for (question, expected), b, t in zip(QUESTIONS, base, trained, strict=True):
        ref = normalize_text(expected)
        ok_b, ok_t = contains_answer(ref, normalize_text(b)), contains_answer(ref, normalize_text(t))
        score["base"] += ok_b
        score["trained"] += ok_t
        cell = lambda text, ok: f"{'✓' if ok else '✗'} {text[:70].replace('|', '/')}"  # noqa: E731
        lines.append(f"| {question} | {expected} | {cell(b, ok_b)} | {cell(t, ok_t)} |")
    n = len(QUESTIONS)
    lines.append(f"| **accuracy** | | **{score['base']}/{n}** | **{score['trained']}/{n}** |")
    table = "\n".join(lines)
    print(table)
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(table + "\n")


if __name__ == "__main__":
    main()
