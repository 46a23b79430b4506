"""The data-efficiency study (#38): Soundwave's adapters against the SpeechLLM adapter at equal data and steps.

    python experiments/less-is-more/run.py                      # every run not done yet, then the report
    python experiments/less-is-more/run.py --hours 0.25,1 --seeds 0 --steps 200   # a smaller grid
    python experiments/less-is-more/run.py --dry-run            # the plan, nothing run

One grid point = one design x one data size x one seed. Both designs use Whisper tiny.en (frozen), SmolLM2-135M-
Instruct with the same LoRA, and the first H hours of `data/synth/train.jsonl` (the data config's `hours`: nested
subsets, each a prefix of the next), for the same total optimizer steps at batch 8:

- soundwave: configs/soundwave_align.yaml (3/8 of the steps) -> soundwave_shrink.yaml (1/8) -> soundwave_sft.yaml
  (1/2), each stage from the one before (`training.init_from`), as the paper trains it;
- speechllm: configs/speechllm.yaml, all the steps (stack 5 + MLP projector + LoRA, one stage).

Then each model is scored with the LLM's own greedy decoding (no CTC scoring: the SpeechLLM design has none) on the
held-out synthetic voices (WER, spoken-QA accuracy) and the real LibriVox clips (WER), and its audio vectors per
second reaching the LLM are counted. Results: `experiments/less-is-more/results/<run>.json` (committed; a run whose
file exists is skipped). Run folders and logs: `runs/less-is-more/<run>/` (a stage with `final/` is not retrained;
an interrupted one resumes from its newest checkpoint). Needs the corpus (`soundwave data synth --out data/synth`,
built here when missing) and writes the report with `report.py` at the end.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import yaml

HERE = Path(__file__).parent
ROOT = HERE.parents[1]
RUNS = ROOT / "runs" / "less-is-more"
RESULTS = HERE / "results"
CORPUS = "data/synth/train.jsonl"
STAGES = {  # design -> (config, share of the steps) in order
    "soundwave": [("soundwave_align", 3 / 8), ("soundwave_shrink", 1 / 8), ("soundwave_sft", 1 / 2)],
    "speechllm": [("speechllm", 1.0)],
}
EVALS = {  # result key -> (manifest, task)
    "heldout_wer": ("data/eval/synth_heldout_asr.jsonl", "asr"),
    "heldout_qa_accuracy": ("data/eval/synth_heldout_qa.jsonl", "qa"),
    "librivox_wer": ("data/eval/librivox.jsonl", "asr"),
}
LLM_ALONE = ["--greedy", "--num-beams", "1", "--ctc-weight", "0", "--spelling-weight", "0", "--word-repair", "0"]
RATE_CLIPS = 32  # held-out clips whose LLM input vectors are counted


def run_name(design: str, hours: float, seed: int) -> str:
    return f"{design}-{hours:g}h-s{seed}"


def stage_config(design: str, stage: str, share: float, hours: float, seed: int, steps: int, previous: Path | None):
    """The stage's config: its YAML with the grid point's data size, seed, steps and where it starts from."""
    config = yaml.safe_load((HERE / "configs" / f"{stage}.yaml").read_text())
    training = config["training"]
    training["output_dir"] = str(RUNS / run_name(design, hours, seed) / stage)
    training["seed"] = seed
    training["max_steps"] = max(round(steps * share), 1)
    training["eval_steps"] = max(training["max_steps"] // 2, 1)
    training["save_steps"] = max(training["max_steps"] // 8, 1)  # a stopped run loses at most 1/8 (about 15 min)
    if previous is not None:
        training["init_from"] = str(previous)
    config["data"]["datasets"][0]["hours"] = hours
    return config


def cpu_seconds() -> float:
    """CPU time (user + system) of the finished child processes so far."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def train(design: str, hours: float, seed: int, steps: int) -> tuple[Path, float, float]:
    """Run the design's stages (those not finished); the last stage's folder, the training wall time and its CPU
    time (the fair one when other work shares the machine), summed over the stages."""
    folder, seconds, cpu, previous = RUNS / run_name(design, hours, seed), 0.0, 0.0, None
    folder.mkdir(parents=True, exist_ok=True)
    for stage, share in STAGES[design]:
        out = folder / stage
        timing, cpu_timing = out / "wall_seconds.txt", out / "cpu_seconds.txt"
        if not (out / "final").is_dir():
            config_path = folder / f"{stage}.yaml"
            config = stage_config(design, stage, share, hours, seed, steps, previous)
            config_path.write_text(yaml.safe_dump(config, sort_keys=False))
            resume = ["--resume"] if any(out.glob("checkpoint-*")) else []
            started, cpu_started = time.time(), cpu_seconds()
            with open(folder / f"{stage}.log", "a") as log:
                subprocess.run(
                    [sys.executable, "-m", "soundwave", "train", str(config_path), *resume],
                    cwd=ROOT, stderr=log, stdout=log, check=True,
                )  # fmt: skip
            timing.write_text(f"{time.time() - started:.1f}\n")
            cpu_timing.write_text(f"{cpu_seconds() - cpu_started:.1f}\n")
        summary = json.loads((out / "summary.json").read_text())
        if "train_seconds" in summary:  # the loop's own clock, carried across resumes (a run over several sittings)
            counted = summary["steps"] - summary.get("train_clock_from_step", 0)  # all, unless resumed from an old
            scale = summary["steps"] / counted  # checkpoint: then its steps' mean time stands for the uncounted ones
            seconds, cpu = seconds + scale * summary["train_seconds"], cpu + scale * summary["train_cpu_seconds"]
        else:  # trained before the trainer kept a clock: this process's time, as timed around it
            seconds += float(timing.read_text()) if timing.exists() else 0.0
            cpu += float(cpu_timing.read_text()) if cpu_timing.exists() else 0.0
        previous = out
    return previous, seconds, cpu


def evaluate(model: Path, key: str, limit: int | None) -> tuple[float, int]:
    """The model's primary metric on one of EVALS (WER or accuracy, a fraction), the LLM decoding alone, and the
    clips it scored."""
    manifest, task = EVALS[key]
    out = model.parent / f"eval-{key}"
    command = [sys.executable, "-m", "soundwave", "eval", "--model", str(model / "final"), "--data", manifest]
    command += ["--task", task, "--output", str(out), "--batch-size", "16", "--max-new-tokens", "48", "--no-progress"]
    command += LLM_ALONE + (["--limit", str(limit)] if limit else [])
    with open(model.parent / f"eval-{key}.log", "w") as log:
        subprocess.run(command, cwd=ROOT, stderr=log, stdout=log, check=True)
    summary = json.loads((out / "summary.json").read_text())
    if summary.get("skipped"):  # every run must be scored on the same clips
        build = "python -m soundwave data synth --out data/synth --config configs/synth/default.yaml"
        raise SystemExit(f"{manifest}: {summary['skipped']} clips skipped (see {out}.log): build the corpus, {build}")
    return summary[summary["primary_metric"]], summary["scored"]


def vectors_per_second(model: Path) -> float:
    """Audio vectors the LLM reads per second of held-out speech (the adapters' output rate)."""
    from soundwave.data.manifest import read_manifest
    from soundwave.inference.pipeline import Item, Pipeline

    pipe = Pipeline.from_pretrained(str(model / "final"))
    samples = read_manifest(ROOT / EVALS["heldout_wer"][0]).samples[:RATE_CLIPS]
    items = [Item(sample.audio, "Transcribe.") for sample in samples]  # paths resolved by read_manifest
    results = pipe.generate_batch(items, batch_size=16, greedy=True, max_new_tokens=1)
    return sum(r.audio_tokens for r in results) / sum(r.audio_seconds for r in results)


def corpus_complete(hours: float, sets: list[str]) -> bool:
    """The corpus holds `hours` of training speech and every clip the scores `sets` read."""
    from soundwave.data.manifest import read_manifest
    from soundwave.errors import ManifestError

    if not (ROOT / CORPUS).exists():
        return False
    seconds = sum(json.loads(line).get("duration") or 0.0 for line in (ROOT / CORPUS).read_text().splitlines())
    try:  # a clip whose audio is missing is a skipped line
        missing = any(read_manifest(ROOT / EVALS[key][0]).skipped for key in sets)
    except ManifestError:  # none of a manifest's clips is there
        return False
    return seconds >= hours * 3600 and not missing


def prepare(hours: float, sets: list[str]) -> None:
    """The offline base models and the whole corpus (built, or completed: planned jobs only append, so the
    training subsets already used stay the same)."""
    for name in ("whisper-tiny.en", "smollm2-135m-instruct"):
        subprocess.run([sys.executable, "-m", "soundwave", "models", "prepare", name], cwd=ROOT, check=True)
    if not corpus_complete(hours, sets):
        RUNS.mkdir(parents=True, exist_ok=True)
        with open(RUNS / "synth.log", "a") as log:
            subprocess.run(
                [sys.executable, "-m", "soundwave", "data", "synth", "--out", "data/synth", "--config",
                 "configs/synth/default.yaml", "--workers", str(os.cpu_count() or 1)],
                cwd=ROOT, stderr=log, stdout=log, check=True,
            )  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--designs", default="soundwave,speechllm")
    parser.add_argument(  # 800 steps x 8 clips of ~2.6 s hear ~4.7 h: a larger subset would go partly unheard
        "--hours", default="0.25,0.5,1,2,4", help="nested data sizes, hours of speech (at most steps x 8 clips)"
    )
    parser.add_argument("--seeds", default="0")
    parser.add_argument("--steps", type=int, default=800, help="optimizer steps per run, both designs (batch 8)")
    parser.add_argument("--eval-limit", type=int, default=None, help="score only the first N clips of each set")
    parser.add_argument("--sets", default=",".join(EVALS), help="which scores (a smoke test: librivox_wer)")
    parser.add_argument("--results", type=Path, default=RESULTS, help="where the results go (a smoke test: /tmp)")
    parser.add_argument("--dry-run", action="store_true")
    args = parser.parse_args()
    grid = [
        (design, float(hours), int(seed))
        for hours in args.hours.split(",")
        for seed in args.seeds.split(",")
        for design in args.designs.split(",")
    ]
    unknown = {design for design, _, _ in grid} - set(STAGES)
    if unknown:
        parser.error(f"unknown design(s) {sorted(unknown)}: {', '.join(STAGES)}")
    sets = args.sets.split(",")
    if set(sets) - set(EVALS):
        parser.error(f"unknown set(s) {sorted(set(sets) - set(EVALS))}: {', '.join(EVALS)}")
    todo = [point for point in grid if not (args.results / f"{run_name(*point)}.json").exists()]
    print(f"{len(grid)} runs, {len(grid) - len(todo)} done, {len(todo)} to do: {[run_name(*p) for p in todo]}")
    if args.dry_run:
        return 0
    if todo:  # all done: straight to the report
        prepare(max(hours for _, hours, _ in todo), sets)
    args.results.mkdir(parents=True, exist_ok=True)
    for design, hours, seed in todo:
        model, train_seconds, train_cpu_seconds = train(design, hours, seed, args.steps)
        result = {"design": design, "hours": hours, "seed": seed, "steps": args.steps, "train_seconds": train_seconds,
                  "train_cpu_seconds": train_cpu_seconds}  # fmt: skip
        for key in sets:
            result[key], result[f"{key}_clips"] = evaluate(model, key, args.eval_limit)
        result["vectors_per_second"] = round(vectors_per_second(model), 3)
        result["eval_limit"] = args.eval_limit
        path = args.results / f"{run_name(design, hours, seed)}.json"
        path.with_suffix(".tmp").write_text(json.dumps(result, indent=1) + "\n")
        path.with_suffix(".tmp").replace(path)
        print(json.dumps(result), flush=True)
    if set(sets) == set(EVALS):
        subprocess.run([sys.executable, str(HERE / "report.py"), "--results", str(args.results)], cwd=ROOT, check=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
