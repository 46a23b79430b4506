"""Throughput of Soundwave at full size with random weights: one by one (the release's way) vs `generate_batch`.

    python bench/gpu_throughput.py --geometry tiny --tokenizer ~/.cache/soundwave/models/smollm2-135m-instruct
    python bench/gpu_throughput.py --geometry soundwave-9b --device cuda --dtype bfloat16 --tokenizer DIR --out DIR

`soundwave-9b` is the released Soundwave-9B's geometry: Whisper large-v3 encoder (32 layers, d_model 1280, 20 heads,
128 mel bins) + Llama-3.1-8B (hidden 4096, 32 layers, 32 heads, 8 kv heads, FFN 14336, vocabulary 128256) + the
adapters, about 9.4B parameters, 18.8 GB in bfloat16. No weights exist to load: the model is built from configs
directly on the device in the target dtype, with each module's own random init. Answers are noise, so every row
decodes exactly `--max-new-tokens` tokens (end ids suppressed) and timings compare fairly. Synthetic clips (tones
in noise, 16 kHz); `paper` mode keeps one vector per CTC peak of a random adapter, so the audio vectors the LLM gets
per clip are arbitrary (most adapter frames, up to 25/s) and are reported. All figures are medians of
`--repeats` rounds; each round measures every setting once, side by side, and no new round starts past `--budget-s`.

Device command, one line (the GPU machine: Python 3.12, torch 2.11, transformers 5.17, no internet; carry `.whl` and
`.gpu-tokenizer`, both git-ignored: `scripts/gpu_wheels.sh` fills `.whl/` with what that Python lacks, none so far,
and `.gpu-tokenizer/` holds SmolLM2's tokenizer files, no weights). Batch 1 and 32, eager and with the compiled decode
step (`--compile`: each batch size compiles once, untimed, before the rounds; `compile_s` in the report); decode
tokens/s at batch 1 against the weight-bandwidth bound (bandwidth by GPU name, `--bandwidth-gbs` to override).
About 4 minutes on an H200 without `--compile` (measured); compiling adds an estimated 2-4:

if ls .whl/*.whl >/dev/null 2>&1; then python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl; fi && export PYTHONPATH=/tmp/site:$PWD HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 PYTHONUNBUFFERED=1 && python3 bench/gpu_throughput.py --geometry soundwave-9b --device cuda --dtype bfloat16 --tokenizer .gpu-tokenizer --out $OUT --clips 32 --batch-sizes 32 --max-new-tokens 32 --repeats 3 --budget-s 180 --compile
"""  # noqa: E501

from __future__ import annotations

import argparse
import dataclasses
import importlib.util
import json
import statistics
import sys
import time
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

if importlib.util.find_spec("soundwave") is None:  # a checkout without `pip install -e`: use the checkout
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

SAMPLE_RATE = 16_000
PROMPT = "What does the person say?"
DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}


@dataclass(frozen=True)
class Geometry:
    """Sizes of the encoder (Whisper) and the LLM (Llama); the adapters follow from them."""

    encoder_layers: int
    encoder_dim: int
    encoder_heads: int
    encoder_ffn: int
    n_mels: int
    llm_hidden: int
    llm_layers: int
    llm_heads: int
    llm_kv_heads: int
    llm_ffn: int
    vocab_size: int  # at least the tokenizer's size (+ `<audio_patch>`) is used
    max_positions: int


# fmt: off
GEOMETRIES = {
    "tiny": Geometry(
        encoder_layers=2, encoder_dim=64, encoder_heads=4, encoder_ffn=128, n_mels=80,
        llm_hidden=64, llm_layers=2, llm_heads=4, llm_kv_heads=2, llm_ffn=128, vocab_size=256, max_positions=131072,
    ),
    # Whisper large-v3's encoder + Llama-3.1-8B, as in the released Soundwave-9B
    "soundwave-9b": Geometry(
        encoder_layers=32, encoder_dim=1280, encoder_heads=20, encoder_ffn=5120, n_mels=128,
        llm_hidden=4096, llm_layers=32, llm_heads=32, llm_kv_heads=8, llm_ffn=14336, vocab_size=128256,
        max_positions=131072,
    ),
}
# fmt: on
LLAMA31_ROPE = {  # Llama-3.1's RoPE scaling
    "rope_type": "llama3",
    "rope_theta": 500000.0,
    "factor": 8.0,
    "low_freq_factor": 1.0,
    "high_freq_factor": 4.0,
    "original_max_position_embeddings": 8192,
}


# ---- model ---------------------------------------------------------------------------------------------------
@contextmanager
def default_dtype(dtype: torch.dtype) -> Iterator[None]:
    previous = torch.get_default_dtype()
    torch.set_default_dtype(dtype)
    try:
        yield
    finally:
        torch.set_default_dtype(previous)


def build_random_pipeline(geometry: Geometry, tokenizer_dir: str, device: str, dtype: torch.dtype, new_tokens: int):
    """A Pipeline over a random Soundwave model built on `device` in `dtype` (paper mode, greedy, fixed length)."""
    from transformers import AutoTokenizer, WhisperFeatureExtractor

    from soundwave.inference.pipeline import Pipeline
    from soundwave.model import SoundwaveForCausalLM
    from soundwave.model.builder import add_token, set_pad_and_eos
    from soundwave.options import GenerationConfig
    from soundwave.prompts import AUDIO_PATCH

    tokenizer = AutoTokenizer.from_pretrained(tokenizer_dir)
    placeholder_id = add_token(tokenizer, AUDIO_PATCH)
    config = soundwave_config(geometry, tokenizer, placeholder_id, tokenizer_dir)
    with torch.device(device), default_dtype(dtype), torch.no_grad():  # no fp32 or CPU copy is ever made
        model = SoundwaveForCausalLM(config)
    model.requires_grad_(False)
    release = config.prompt_format == "release"
    config.llm_pad_token_id = set_pad_and_eos(tokenizer, model.llm, placeholder_id, release=release)
    ends = {tokenizer.pad_token_id, tokenizer.eos_token_id, *as_list(model.llm.generation_config.eos_token_id)}
    model.llm.generation_config.suppress_tokens = sorted(i for i in ends if i is not None)  # fixed-length answers
    generation = GenerationConfig(max_new_tokens=new_tokens, do_sample=False)
    extractor = WhisperFeatureExtractor(feature_size=geometry.n_mels)
    return Pipeline.from_model(model.eval(), tokenizer, extractor, generation)


def soundwave_config(geometry: Geometry, tokenizer, placeholder_id: int, tokenizer_dir: str):
    """The SoundwaveConfig of `geometry`: Llama-3.1 LLM, Whisper encoder, paper mode, the tokenizer's prompt style."""
    from transformers import LlamaConfig, WhisperConfig

    from soundwave.model import SoundwaveConfig
    from soundwave.model.builder import check_prompt_format, is_llama3_style

    g = geometry
    text_config = LlamaConfig(
        vocab_size=max(g.vocab_size, len(tokenizer)),
        hidden_size=g.llm_hidden,
        intermediate_size=g.llm_ffn,
        num_hidden_layers=g.llm_layers,
        num_attention_heads=g.llm_heads,
        num_key_value_heads=g.llm_kv_heads,
        max_position_embeddings=g.max_positions,
        rms_norm_eps=1e-5,
        rope_parameters=dict(LLAMA31_ROPE),
        tie_word_embeddings=False,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
    )
    audio_config = WhisperConfig(
        d_model=g.encoder_dim,
        encoder_layers=g.encoder_layers,
        encoder_attention_heads=g.encoder_heads,
        encoder_ffn_dim=g.encoder_ffn,
        num_mel_bins=g.n_mels,
        decoder_layers=1,
        decoder_attention_heads=g.encoder_heads,
        decoder_ffn_dim=g.encoder_ffn,
        max_source_positions=1500,  # 30 s windows
    )
    llama3 = is_llama3_style(tokenizer)
    prompt_format = "release" if llama3 else "chat_template"
    check_prompt_format(prompt_format, tokenizer, tokenizer_dir)
    return SoundwaveConfig(
        text_config=text_config,
        audio_config=audio_config,
        audio_patch_token=placeholder_id,
        mode="paper",
        mask_eot_keys=llama3,
        prompt_format=prompt_format,
        adapter_dropout=0.0,
    )


def as_list(value) -> list:
    return list(value) if isinstance(value, list | tuple) else [value]


def parameter_counts(model) -> dict[str, int]:
    parts = {name: getattr(model, name) for name in ("audio_encoder", "align_adapter", "shrink_adapter", "llm")}
    counts = {name: sum(p.numel() for p in part.parameters()) for name, part in parts.items()}
    return counts | {"total": sum(p.numel() for p in model.parameters())}


# ---- clips ---------------------------------------------------------------------------------------------------
def synthetic_clips(count: int, min_seconds: float, max_seconds: float, seed: int = 0) -> list[np.ndarray]:
    """`count` 16 kHz clips, lengths spread over [min, max] s: a tone (100-1000 Hz), 3 Hz tremolo, light noise."""
    rng = np.random.default_rng(seed)
    lengths = rng.permutation(np.linspace(min_seconds, max_seconds, count))
    clips = []
    for seconds in lengths:
        t = np.arange(int(seconds * SAMPLE_RATE)) / SAMPLE_RATE
        tone = np.sin(2 * np.pi * rng.uniform(100, 1000) * t) * (0.6 + 0.4 * np.sin(2 * np.pi * 3 * t))
        clips.append((0.3 * tone + 0.02 * rng.standard_normal(t.shape)).astype(np.float32))
    return clips


# ---- timing --------------------------------------------------------------------------------------------------
def synchronize(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def timed(fn: Callable, device: str):
    """(seconds, fn()) with the device's queued work finished on both sides."""
    synchronize(device)
    start = time.perf_counter()
    value = fn()
    synchronize(device)
    return time.perf_counter() - start, value


def chunks(items: list, size: int) -> list[list]:
    return [items[i : i + size] for i in range(0, len(items), size)]


def run_end_to_end(pipe, items: list[dict], batch: int, device: str) -> dict:
    """One pass of `generate_batch` over all items (batch 1: one call per item, the release's way)."""
    if batch == 1:
        seconds, results = timed(lambda: [r for item in items for r in pipe.generate_batch([item])], device)
    else:
        seconds, results = timed(lambda: pipe.generate_batch(items, batch_size=batch), device)
    errors = [r.error for r in results if r.error]
    if errors:
        raise RuntimeError(f"batch {batch}: {len(errors)} item(s) failed, first: {errors[0]}")
    return {"seconds": seconds, "results": results}


def run_stages(pipe, waves: list[np.ndarray], batch: int, device: str) -> dict:
    """Seconds of each stage over all clips at `batch`: features (CPU), encoder + adapters, LLM prefill + 1 token."""
    from soundwave.prompts import Turn

    model = pipe.model
    one_token = pipe.generation.with_overrides(max_new_tokens=1).to_generate_kwargs(pipe.eos_token_id, pipe.tokenizer)
    totals = {"features_s": 0.0, "encode_s": 0.0, "prefill_s": 0.0}
    for part in chunks(waves, batch):
        seconds, inputs = timed(lambda p=part: pipe.processor(p, [[Turn("user", PROMPT, audio=True)]] * len(p)), "cpu")
        totals["features_s"] += seconds
        inputs = {k: (v.to(model.device) if v is not None else None) for k, v in inputs.items()}
        with torch.inference_mode():
            seconds, audio = timed(
                lambda i=inputs: model.encode_audio(i["audios"], i["audio_lengths"], i["windows_per_item"]), device
            )
            totals["encode_s"] += seconds
            seconds, _ = timed(lambda i=inputs, a=audio: model.generate(**i, audio_encoding=a, **one_token), device)
            totals["prefill_s"] += seconds
    return totals


def peak_memory_gb(device: str) -> float | None:
    return torch.cuda.max_memory_allocated() / 1e9 if device.startswith("cuda") else None


def reset_peak_memory(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.reset_peak_memory_stats()


# ---- the benchmark -------------------------------------------------------------------------------------------
@dataclass
class Setting:
    """One measured configuration: its runs accumulate over rounds."""

    name: str
    batch: int
    kind: str  # "end_to_end" or "stages"
    compiled: bool = False  # static KV cache + compiled decode step (`soundwave/model/compiled.py`)
    runs: list[dict] = dataclasses.field(default_factory=list)
    peak_gb: float | None = None
    error: str | None = None


def measure_round(pipe, settings: list[Setting], items: list[dict], device: str, log: Callable, compiled=None) -> None:
    """Every setting once; `compiled`: the CompileConfig the compiled settings decode with."""
    waves = [item["audio"] for item in items]
    for setting in settings:
        if setting.error:
            continue
        pipe.model.decode_compile = compiled if setting.compiled else None
        reset_peak_memory(device)
        try:
            if setting.kind == "end_to_end":
                run = run_end_to_end(pipe, items, setting.batch, device)
            else:
                run = run_stages(pipe, waves, setting.batch, device)
        except Exception as err:  # a failed setting must not cost the others' figures
            setting.error = f"{type(err).__name__}: {err}"
            log(f"{setting.name}: FAILED {setting.error}\n{traceback.format_exc(limit=-8)}")
            continue
        peak = peak_memory_gb(device)
        setting.peak_gb = max(setting.peak_gb or 0.0, peak) if peak is not None else None
        setting.runs.append(run)
        log(f"{setting.name}: {run.get('seconds', sum(v for k, v in run.items() if k.endswith('_s'))):.2f} s")


def summarize(settings: list[Setting], audio_seconds: float, new_tokens: int, bound: float | None = None) -> dict:
    """Medians per setting, speedups against eager one by one, stages with the LLM decode derived from end to end
    (compiled settings: their end to end minus the eager stages, which compiling leaves as they are); `bound`: the
    weight-bandwidth bound on batch-1 decoding, tokens/s."""
    end_to_end = {s.batch: s for s in settings if s.kind == "end_to_end" and s.runs and not s.compiled}
    reference = end_to_end[1].runs[0]["results"] if 1 in end_to_end else None
    single = median_seconds(end_to_end[1]) if 1 in end_to_end else None
    stages = [stage_row(s, end_to_end.get(s.batch), new_tokens) for s in settings if s.kind == "stages"]
    by_batch = {row["batch"]: row for row in stages if "features_s" in row}
    throughput = [
        throughput_row(s, audio_seconds, single, reference) | decode_rate(s, by_batch.get(s.batch), new_tokens, bound)
        for s in settings
        if s.kind == "end_to_end"
    ]
    peaks = [s.peak_gb for s in settings if s.peak_gb is not None]
    summary = {"throughput": throughput, "stages": stages, "peak_gb": max(peaks) if peaks else None}
    if reference is not None:
        audio_tokens = [r.audio_tokens for r in reference]
        summary |= {
            "audio_tokens_per_clip": audio_tokens,
            "audio_tokens_per_audio_second": sum(audio_tokens) / audio_seconds,
            "output_token_counts_seen": sorted({n for row in throughput for n in row.get("output_token_counts", [])}),
        }
    return summary


def median_seconds(setting: Setting) -> float:
    return statistics.median(r["seconds"] for r in setting.runs)


def throughput_row(s: Setting, audio_seconds: float, single: float | None, reference: list | None) -> dict:
    """One end-to-end setting; `reference`: the one-by-one Results, to compare answers with."""
    row = {"batch": s.batch, "label": s.name, "repeats": len(s.runs), "error": s.error, "peak_gb": s.peak_gb}
    if not s.runs:
        return row
    seconds, results = median_seconds(s), s.runs[0]["results"]
    tokens = sum(r.output_tokens for r in results)
    row |= {
        "seconds": seconds,
        "runs_s": [r["seconds"] for r in s.runs],
        "clips_per_s": len(results) / seconds,
        "rtf": seconds / audio_seconds,
        "generated_tokens": tokens,
        "tokens_per_s": tokens / seconds,
        "speedup": single / seconds if single else None,
        "output_token_counts": sorted({r.output_tokens for run in s.runs for r in run["results"]}),
        "audio_tokens": [r.audio_tokens for r in results],
        "answers": [r.text for r in results] if s.batch == 1 else None,
    }
    if reference is not None:  # greedy: the same answers batched, up to float rounding
        pairs = list(zip(reference, results, strict=True))
        row["same_text_as_one_by_one"] = sum(a.text == b.text for a, b in pairs)
        row["same_audio_tokens_as_one_by_one"] = sum(a.audio_tokens == b.audio_tokens for a, b in pairs)
    return row


def decode_rate(s: Setting, stages: dict | None, new_tokens: int, bound: float | None) -> dict:
    """The LLM decode's tokens/s in an end-to-end setting (its time less the stages before decoding), and at batch 1
    its share of the weight-bandwidth bound."""
    if not s.runs or stages is None:
        return {}
    decode = median_seconds(s) - stages["features_s"] - stages["encode_s"] - stages["prefill_s"]
    rate = len(s.runs[0]["results"]) * (new_tokens - 1) / decode if decode > 0 else None
    row = {"decode_tokens_per_s": rate}
    if bound and rate and s.batch == 1:
        row["share_of_bound"] = rate / bound
    return row


def stage_row(s: Setting, end_to_end: Setting | None, new_tokens: int) -> dict:
    row = {"batch": s.batch, "repeats": len(s.runs), "error": s.error}
    if not s.runs:
        return row
    row |= {key: statistics.median(r[key] for r in s.runs) for key in ("features_s", "encode_s", "prefill_s")}
    if end_to_end is not None:
        total = median_seconds(end_to_end)
        decode = total - row["features_s"] - row["encode_s"] - row["prefill_s"]
        rows_decoded = len(end_to_end.runs[0]["results"]) * (new_tokens - 1)
        row |= {
            "end_to_end_s": total,
            "decode_s": decode,
            "decode_tokens_per_s": rows_decoded / decode if decode > 0 else None,
        }
    return row


THROUGHPUT_COLUMNS = [  # (title, key, format)
    ("batch", "label", "{}"),
    ("seconds", "seconds", "{:.2f}"),
    ("clips/s", "clips_per_s", "{:.2f}"),
    ("real-time factor", "rtf", "{:.4f}"),
    ("generated tokens/s", "tokens_per_s", "{:.1f}"),
    ("vs one by one", "speedup", "{:.2f}x"),
    ("decode tokens/s", "decode_tokens_per_s", "{:.1f}"),
    ("of the bandwidth bound", "share_of_bound", "{:.0%}"),
    ("peak GB", "peak_gb", "{:.1f}"),
]
STAGE_COLUMNS = [
    ("batch", "batch", "{}"),
    ("features (CPU) s", "features_s", "{:.2f}"),
    ("encoder + adapters s", "encode_s", "{:.2f}"),
    ("LLM prefill + 1 token s", "prefill_s", "{:.2f}"),
    ("LLM decode s (derived)", "decode_s", "{:.2f}"),
    ("decode tokens/s", "decode_tokens_per_s", "{:.1f}"),
]


def markdown_table(rows: list[dict], columns: list[tuple[str, str, str]]) -> str:
    lines = ["| " + " | ".join(title for title, _, _ in columns) + " |", "|---" * len(columns) + "|"]
    for row in rows:
        cells = [fmt.format(row[key]) if row.get(key) is not None else "-" for _, key, fmt in columns]
        if row.get("error"):
            cells[1:] = [f"failed: {row['error']}"] + [""] * (len(columns) - 2)
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def make_settings(batch_sizes: list[int], compiled: bool = False) -> list[Setting]:
    """Largest batch first (cheapest), one by one last: the round's first figures arrive soonest; `compiled`: each
    end-to-end setting again with the compiled decode step."""
    sizes = sorted({b for b in batch_sizes if b > 1}, reverse=True)
    settings = [Setting(f"batch {b}", b, "end_to_end") for b in sizes]
    settings.append(Setting("1 (one by one)", 1, "end_to_end"))
    if compiled:
        settings += [Setting(f"compiled batch {b}", b, "end_to_end", compiled=True) for b in sizes]
        settings.append(Setting("compiled 1 (one by one)", 1, "end_to_end", compiled=True))
    settings += [Setting(f"stages batch {b}", b, "stages") for b in [*sizes, 1]]
    return settings


def compile_warm_up(pipe, settings: list[Setting], items: list[dict], config, device: str, log: Callable) -> dict:
    """Compile each compiled setting's decode step before anything is timed: one whole untimed pass each (the static
    cache reaches its longest length, so timed passes reuse the compiled step); seconds per setting."""
    seconds = {}
    for setting in (s for s in settings if s.compiled):
        pipe.model.decode_compile = config
        try:
            seconds[setting.name], _ = timed(lambda s=setting: run_end_to_end(pipe, items, s.batch, device), device)
            log(f"{setting.name}: compiled and ran once in {seconds[setting.name]:.1f} s")
        except Exception as err:
            setting.error = f"{type(err).__name__}: {err}"
            log(f"{setting.name}: compiling FAILED {setting.error}\n{traceback.format_exc(limit=-8)}")
        if pipe.model.decode_compile is None:  # the compiler failed and decoding fell back to eager
            setting.error = setting.error or "compiling failed: decoded eagerly (see the warning above)"
    pipe.model.decode_compile = None
    return seconds


BANDWIDTH_GBS = {"H200": 4800.0, "H100 PCIe": 2000.0, "H100": 3350.0}  # HBM bandwidth by GPU name (SXM unless named)


def bandwidth_bound(device: str, llm_bytes: int, bandwidth_gbs: float | None) -> dict:
    """Batch-1 decoding's bound: every step reads the LLM's weights once (the KV cache of a short answer and the
    other modules are not counted), so tokens/s <= bandwidth / LLM weight bytes."""
    if bandwidth_gbs is None and device.startswith("cuda"):
        name = torch.cuda.get_device_name()
        bandwidth_gbs = next((gbs for key, gbs in BANDWIDTH_GBS.items() if key in name), None)
    if not bandwidth_gbs:
        return {}
    return {"bandwidth_gbs": bandwidth_gbs, "llm_weight_gb": llm_bytes / 1e9,
            "bound_tokens_per_s": bandwidth_gbs * 1e9 / llm_bytes}  # fmt: skip


def warm_up(pipe, items: list[dict], batch_sizes: list[int], log: Callable) -> None:
    """Initialise kernels and the allocator at every batch size before anything is timed (failures: logged; the
    setting then fails on its own when measured)."""
    for batch in sorted({1, *batch_sizes}):
        try:
            results = pipe.generate_batch(items[:batch], batch_size=batch, max_new_tokens=2)
            errors = [r.error for r in results if r.error]
            if errors:
                log(f"warm-up at batch {batch}: {errors[0]}")
        except Exception as err:
            log(f"warm-up at batch {batch} FAILED: {type(err).__name__}: {err}\n{traceback.format_exc(limit=-8)}")


def environment(device: str) -> dict:
    import transformers

    info = {"python": sys.version.split()[0], "torch": torch.__version__, "transformers": transformers.__version__}
    if device.startswith("cuda"):
        info["gpu"] = torch.cuda.get_device_name()
    else:
        info["threads"] = torch.get_num_threads()
    return info


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--geometry", choices=sorted(GEOMETRIES), default="tiny")
    parser.add_argument("--tokenizer", required=True, help="a tokenizer directory (tokenizer.json + config)")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--dtype", choices=sorted(DTYPES), default="float32")
    parser.add_argument("--clips", type=int, default=32)
    parser.add_argument("--min-seconds", type=float, default=4.0)
    parser.add_argument("--max-seconds", type=float, default=15.0)
    parser.add_argument("--batch-sizes", default="8,32")
    parser.add_argument("--max-new-tokens", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--budget-s", type=float, default=180.0, help="no new round starts past this (measuring)")
    parser.add_argument("--out", default="bench/results")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--compile", action="store_true", help="also time the compiled decode step (static cache)")
    parser.add_argument("--compile-backend", default="inductor", help="torch.compile backend (a test: eager)")
    parser.add_argument("--bandwidth-gbs", type=float, help="memory bandwidth for the bound (default: by GPU name)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> dict:
    args = parse_args(argv)
    if not Path(args.tokenizer).is_dir():
        raise SystemExit(f"--tokenizer {args.tokenizer}: no such directory (on the GPU machine: carry .gpu-tokenizer)")
    started = time.perf_counter()

    def log(message: str) -> None:
        print(f"[{time.perf_counter() - started:7.1f} s] {message}", flush=True)

    torch.manual_seed(args.seed)
    geometry = GEOMETRIES[args.geometry]
    out = Path(args.out) / f"gpu-throughput-{args.geometry}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    report = {"geometry": args.geometry, "geometry_config": dataclasses.asdict(geometry), "args": vars(args)}
    report |= environment(args.device)
    log(f"building {args.geometry} on {args.device} in {args.dtype}: {environment(args.device)}")
    try:
        build_s, pipe = timed(
            lambda: build_random_pipeline(
                geometry, args.tokenizer, args.device, DTYPES[args.dtype], args.max_new_tokens
            ),
            args.device,
        )
    except Exception as err:  # the report says why, then the traceback does
        out.write_text(json.dumps(report | {"error": f"build: {type(err).__name__}: {err}"}, indent=2))
        raise
    counts = parameter_counts(pipe.model)
    report |= {"build_s": build_s, "parameters": counts, "llm_attention": pipe.model.llm.config._attn_implementation}
    llm_bytes = sum(p.numel() * p.element_size() for p in pipe.model.llm.parameters())
    report |= bandwidth_bound(args.device, llm_bytes, args.bandwidth_gbs)
    if args.device.startswith("cuda"):
        report["weights_gb"] = torch.cuda.memory_allocated() / 1e9
    log(f"built in {build_s:.1f} s: {counts['total'] / 1e9:.3f}B parameters")
    waves = synthetic_clips(args.clips, args.min_seconds, args.max_seconds, args.seed)
    items = [{"audio": w, "prompt": PROMPT, "sampling_rate": SAMPLE_RATE} for w in waves]
    report |= {"clips": len(items), "clip_seconds": [len(w) / SAMPLE_RATE for w in waves]}
    report["audio_seconds"] = sum(report["clip_seconds"])
    batch_sizes = [int(b) for b in args.batch_sizes.split(",") if b.strip()]
    warm_s, _ = timed(lambda: warm_up(pipe, items, batch_sizes, log), args.device)
    log(f"warmed up in {warm_s:.1f} s")
    settings = make_settings(batch_sizes, compiled=args.compile)
    compiled = None
    if args.compile:
        from soundwave.model.compiled import compile_config

        compiled = compile_config(torch.device(args.device).type, args.compile_backend)
        report["compile_s"] = compile_warm_up(pipe, settings, items, compiled, args.device, log)
    rounds_started, round_s = time.perf_counter(), 0.0
    for index in range(args.repeats):
        elapsed = time.perf_counter() - rounds_started
        if index and elapsed + round_s > args.budget_s:
            log(f"stopping after {index} round(s): another (~{round_s:.0f} s) would pass --budget-s {args.budget_s}")
            break
        round_s, _ = timed(lambda: measure_round(pipe, settings, items, args.device, log, compiled), args.device)
        report |= summarize(settings, report["audio_seconds"], args.max_new_tokens, report.get("bound_tokens_per_s"))
        out.write_text(json.dumps(report, indent=2))  # partial results survive a later crash
        log(f"round {index + 1} took {round_s:.1f} s")
    print(markdown_table(report.get("throughput", []), THROUGHPUT_COLUMNS))
    print("\n" + markdown_table(report.get("stages", []), STAGE_COLUMNS))
    print(f"\naudio vectors the LLM got per clip (one by one): {report.get('audio_tokens_per_clip')}")
    if report.get("bound_tokens_per_s"):
        print(f"bandwidth bound at batch 1: {report['bandwidth_gbs']:.0f} GB/s / {report['llm_weight_gb']:.1f} GB of "
              f"LLM weights = {report['bound_tokens_per_s']:.0f} tokens/s")  # fmt: skip
    log(f"wrote {out}")
    return report


if __name__ == "__main__":
    report = main()
    failed = [r for r in report.get("throughput", []) + report.get("stages", []) if r.get("error")]
    sys.exit(1 if failed else 0)
