"""Memory and speed with and without int8 weight quantization (one process per setting, so RSS is its own).

python bench/quantize.py --model soundwave-mini --clips data/eval/librivox.jsonl
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time


def measure(model: str, clips: str, quantize: str | None, repeats: int) -> dict:
    import psutil

    from soundwave.audio import load_audio
    from soundwave.data.manifest import read_manifest
    from soundwave.inference.pipeline import Pipeline

    process = psutil.Process()
    before = process.memory_info().rss
    start = time.perf_counter()
    pipe = Pipeline.from_pretrained(model, quantize=quantize)
    load = time.perf_counter() - start
    items = [
        {"audio": load_audio(s.audio), "prompt": "What does the person say?", "sampling_rate": 16000}
        for s in read_manifest(clips).samples
    ]
    times, texts = [], []
    for _ in range(repeats):
        start = time.perf_counter()
        results = [pipe.generate_batch([item], greedy=True, max_new_tokens=32)[0] for item in items]
        times.append(time.perf_counter() - start)
        texts = [r.text for r in results]
    tokens = sum(r.output_tokens for r in results)
    return {
        "quantize": quantize or "none",
        "load_s": load,
        "rss_mb": process.memory_info().rss / 1e6,
        "model_rss_mb": (process.memory_info().rss - before) / 1e6,
        "seconds": statistics.median(times),
        "tokens_per_s": tokens / statistics.median(times),
        "texts": texts,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="soundwave-mini")
    parser.add_argument("--clips", default="data/eval/librivox.jsonl")
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--one", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one is not None:
        print(json.dumps(measure(args.model, args.clips, args.one or None, args.repeats)))
        return
    rows = []
    for setting in ("", "int8"):
        out = subprocess.run(
            [
                sys.executable,
                __file__,
                "--model",
                args.model,
                "--clips",
                args.clips,
                "--repeats",
                str(args.repeats),
                "--one",
                setting,
            ],
            capture_output=True,
            text=True,
            check=True,
        )
        rows.append(json.loads(out.stdout.strip().splitlines()[-1]))
    same = sum(a == b for a, b in zip(rows[0]["texts"], rows[1]["texts"], strict=True))
    print("| weights | load s | process RSS MB | model RSS MB | seconds (5 clips, 1 by 1) | tokens/s |")
    print("|---|---|---|---|---|---|")
    for r in rows:
        print(
            f"| {r['quantize']} | {r['load_s']:.1f} | {r['rss_mb']:.0f} | {r['model_rss_mb']:.0f} | "
            f"{r['seconds']:.2f} | {r['tokens_per_s']:.1f} |"
        )
    print(f"\nsame greedy answer on {same}/{len(rows[0]['texts'])} clips")


if __name__ == "__main__":
    main()
