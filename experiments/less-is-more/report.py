"""The study's learning curves and table from `results/*.json` (run.py writes them).

    python experiments/less-is-more/report.py [--png docs/less-is-more.png] [--table results/table.md]

The PNG: WER on the held-out voices and on LibriVox, and spoken-QA accuracy, against hours of training speech (log
axis), one line per design, the mean over seeds with their range as error bars. The table: one row per design and
size. Also printed: for each design, the smallest size reaching each WER the other design reaches, and the data
ratio Soundwave needs for the SpeechLLM adapter's best held-out WER.
"""

from __future__ import annotations

import argparse
import json
import statistics
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

HERE = Path(__file__).parent
METRICS = [
    ("heldout_wer", "WER, held-out voices"),
    ("librivox_wer", "WER, LibriVox"),
    ("heldout_qa_accuracy", "spoken QA"),
]


def load(folder: Path) -> dict[tuple[str, float], list[dict]]:
    """Results by (design, hours), one entry per seed."""
    grouped: dict[tuple[str, float], list[dict]] = {}
    for path in sorted(folder.glob("*.json")):
        result = json.loads(path.read_text())
        grouped.setdefault((result["design"], result["hours"]), []).append(result)
    return grouped


def mean_and_range(runs: list[dict], key: str) -> tuple[float, float, float]:
    values = [run[key] for run in runs]
    return statistics.fmean(values), min(values), max(values)


def hours_to_reach(grouped, design: str, wer: float) -> float | None:
    """The smallest data size at which `design`'s mean held-out WER is at most `wer`."""
    sizes = sorted(h for d, h in grouped if d == design)
    return next((h for h in sizes if mean_and_range(grouped[(design, h)], "heldout_wer")[0] <= wer), None)


def scored(grouped) -> list[tuple[str, str]]:
    """The METRICS every result has (a smoke test scores fewer)."""
    return [m for m in METRICS if all(m[0] in run for runs in grouped.values() for run in runs)]


def plot(grouped, png: Path) -> None:
    designs, metrics = sorted({design for design, _ in grouped}), scored(grouped)
    figure, axes = plt.subplots(1, len(metrics), figsize=(5 * len(metrics), 4), squeeze=False)
    for axis, (key, title) in zip(axes[0], metrics, strict=True):
        for design in designs:
            sizes = sorted(h for d, h in grouped if d == design)
            stats = [mean_and_range(grouped[(design, h)], key) for h in sizes]
            means = [100 * s[0] for s in stats]
            errors = [[100 * (s[0] - s[1]) for s in stats], [100 * (s[2] - s[0]) for s in stats]]
            axis.errorbar(sizes, means, yerr=errors, marker="o", capsize=3, label=design)
        axis.set_xscale("log")
        every = sorted({h for _, h in grouped})
        axis.set_xticks(every, [f"{h:g}" for h in every])
        axis.minorticks_off()
        axis.set_xlabel("hours of training speech")
        axis.set_ylabel("%")
        axis.set_title(title)
        axis.grid(alpha=0.3)
        axis.legend()
    figure.tight_layout()
    png.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(png, dpi=120)


def table(grouped) -> str:
    metrics = scored(grouped)
    lines = [
        f"| design | hours | seeds | {' | '.join(title for _, title in metrics)} | vectors / s | training min (mean) "
        "| training CPU h |",
        "|---|---|---|" + "---|" * (len(metrics) + 3),
    ]
    for design, hours in sorted(grouped):
        runs = grouped[(design, hours)]
        cells = [f"{100 * mean_and_range(runs, key)[0]:.1f} %" for key, _ in metrics]
        rate = statistics.fmean(run["vectors_per_second"] for run in runs)
        minutes = statistics.fmean(run["train_seconds"] for run in runs) / 60
        cpu = [run["train_cpu_seconds"] / 3600 for run in runs if "train_cpu_seconds" in run]  # user + system
        cpu_cell = f"{statistics.fmean(cpu):.2f}" if cpu else "-"
        lines.append(
            f"| {design} | {hours:g} | {len(runs)} | {' | '.join(cells)} | {rate:.1f} | {minutes:.0f} | {cpu_cell} |"
        )
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--results", type=Path, default=HERE / "results")
    parser.add_argument("--png", type=Path, default=HERE / "results" / "less-is-more.png")
    parser.add_argument("--table", type=Path, default=HERE / "results" / "table.md")
    args = parser.parse_args()
    grouped = load(args.results)
    if not grouped:
        print(f"no results in {args.results}: run experiments/less-is-more/run.py first")
        return 1
    plot(grouped, args.png)
    args.table.write_text(table(grouped))
    print(table(grouped))
    runs = [run for runs in grouped.values() for run in runs]
    cpu = sum(run.get("train_cpu_seconds", 0.0) for run in runs) / 3600
    print(f"{len(runs)} runs: training {sum(run['train_seconds'] for run in runs) / 3600:.1f} h wall, {cpu:.1f} CPU h")
    if METRICS[0] in scored(grouped) and {d for d, _ in grouped} >= {"soundwave", "speechllm"}:
        best = min(mean_and_range(grouped[k], "heldout_wer")[0] for k in grouped if k[0] == "speechllm")
        needed = {d: hours_to_reach(grouped, d, best) for d in ("soundwave", "speechllm")}
        print(f"SpeechLLM's best held-out WER {100 * best:.1f} %: reached with {needed['speechllm']} h by SpeechLLM, "
              f"{needed['soundwave']} h by Soundwave")  # fmt: skip
        if needed["soundwave"] and needed["speechllm"]:
            print(f"data ratio Soundwave / SpeechLLM: {needed['soundwave'] / needed['speechllm']:.3g}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
