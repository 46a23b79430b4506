"""Inference benchmark: batched vs one-by-one throughput, RTF, LLM input rate per adapter, prefill and decode.

    python bench/inference.py --model soundwave-mini --clips data/eval/librivox.jsonl --repeats 3 --out bench/results

All figures are medians over `--repeats` runs measured side by side in one process on the same model and clips.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

import numpy as np
import torch

from soundwave.audio import load_audio
from soundwave.data.manifest import read_manifest
from soundwave.inference.pipeline import Pipeline

GREEDY = {"greedy": True, "max_new_tokens": 48}


def median_time(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def throughput(pipe: Pipeline, items: list[dict], batch_sizes: list[int], repeats: int) -> list[dict]:
    """Clips/s of generate_batch at each batch size vs one clip at a time (the release's way)."""
    rows = []
    audio_seconds = sum(len(i["audio"]) for i in items) / 16000
    single = median_time(lambda: [pipe.generate_batch([i], **GREEDY) for i in items], repeats)
    rows.append(
        {
            "batch": "1 (one by one)",
            "seconds": single,
            "clips_per_s": len(items) / single,
            "rtf": single / audio_seconds,
            "speedup": 1.0,
        }
    )
    for size in batch_sizes:
        seconds = median_time(lambda s=size: pipe.generate_batch(items, batch_size=s, **GREEDY), repeats)
        rows.append(
            {
                "batch": size,
                "seconds": seconds,
                "clips_per_s": len(items) / seconds,
                "rtf": seconds / audio_seconds,
                "speedup": single / seconds,
            }
        )
    return rows


def input_rates(pipe: Pipeline, waves: list[np.ndarray]) -> dict:
    """LLM input vectors per second of audio: Soundwave's CTC shrinking vs stack-5 (SpeechLLM) vs 25/s."""
    batch = pipe.processor(waves, [[] for _ in waves])
    with torch.inference_mode():
        audio = pipe.model.encode_audio(batch["audios"], batch["audio_lengths"], batch["windows_per_item"])
    seconds = sum(len(w) for w in waves) / 16000
    encoder_frames = sum(int(np.ceil(len(w) / 320)) for w in waves)  # Whisper: 50 frames/s
    return {
        "soundwave": float(audio.lengths.sum()) / seconds,
        "speechllm_k5": sum(int(np.ceil(f / 5)) for f in [int(np.ceil(len(w) / 320)) for w in waves]) / seconds,
        "fixed_25_per_s": 25.0,
        "whisper_frames": encoder_frames / seconds,
    }


def prefill_and_decode(pipe: Pipeline, waves: list[np.ndarray], texts: list[str], repeats: int) -> dict:
    """Prefill time for each input rate (same LLM, random vectors at that rate) and decode tokens/s, speech vs text."""
    llm = pipe.model.llm
    dim = llm.get_input_embeddings().weight.shape[1]
    seconds = float(np.mean([len(w) / 16000 for w in waves]))
    rates = input_rates(pipe, waves)
    prompt = 30
    prefill = {}
    for name in ("soundwave", "speechllm_k5", "fixed_25_per_s"):
        length = prompt + int(round(rates[name] * seconds))
        embeds = torch.randn(1, length, dim) * 0.02
        with torch.inference_mode():
            prefill[name] = {
                "vectors": length,
                "ms": 1000 * median_time(lambda e=embeds: llm(inputs_embeds=e), repeats),
            }
    items = [{"audio": w, "prompt": "What does the person say?", "sampling_rate": 16000} for w in waves]
    speech_tokens, speech_time = 0, 0.0
    for item in items:
        start = time.perf_counter()
        result = pipe.generate_batch([item], greedy=True, max_new_tokens=48)[0]
        speech_time += time.perf_counter() - start
        speech_tokens += result.output_tokens
    text_tokens, text_time = 0, 0.0
    for text in texts:  # the bare LLM given the transcript as text: the lower bound of the pipeline's cost
        ids = pipe.tokenizer.apply_chat_template(
            [{"role": "user", "content": f"What does this say? {text}"}],
            add_generation_prompt=True,
            return_tensors="pt",
        )
        ids = ids["input_ids"] if hasattr(ids, "keys") else ids
        start = time.perf_counter()
        with torch.inference_mode():
            out = llm.generate(ids, max_new_tokens=48, do_sample=False, pad_token_id=pipe.tokenizer.pad_token_id)
        text_time += time.perf_counter() - start
        text_tokens += out.shape[1] - ids.shape[1]
    return {
        "prefill": prefill,
        "speech_pipeline_tokens_per_s": speech_tokens / speech_time,
        "bare_llm_text_tokens_per_s": text_tokens / text_time,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="soundwave-mini")
    parser.add_argument("--clips", default="data/eval/librivox.jsonl")
    parser.add_argument("--copies", type=int, default=4, help="repeat the clip set to get enough items")
    parser.add_argument("--batch-sizes", default="4,8,16")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--quantize", default=None)
    parser.add_argument("--out", default="bench/results")
    args = parser.parse_args()
    torch.manual_seed(0)
    samples = read_manifest(args.clips).samples
    waves = [load_audio(s.audio) for s in samples]
    texts = [s.transcript or s.answer for s in samples]
    pipe = Pipeline.from_pretrained(args.model, quantize=args.quantize)
    items = [{"audio": w, "prompt": "What does the person say?", "sampling_rate": 16000} for w in waves] * args.copies
    result = {
        "model": args.model,
        "quantize": args.quantize,
        "clips": len(items),
        "threads": torch.get_num_threads(),
        "throughput": throughput(pipe, items, [int(b) for b in args.batch_sizes.split(",")], args.repeats),
        "input_rate_per_s": input_rates(pipe, waves),
        **prefill_and_decode(pipe, waves, texts, args.repeats),
    }
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    name = f"inference-{Path(args.model).name}{'-' + args.quantize if args.quantize else ''}.json"
    (out / name).write_text(json.dumps(result, indent=2))
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
