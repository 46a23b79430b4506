"""One PNG of scripts/eval_mini.sh's results: the primary metric per eval set, soundwave-mini beside Whisper tiny.en.

python scripts/plot_mini_quality.py runs/eval runs/eval/quality.png
"""

import argparse
import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

SETS = ["synth_heldout_asr", "librivox", "cards", "synth_heldout_qa", "synth_heldout_gender"]
SYSTEMS = {
    "mini": "soundwave-mini (LLM answer)",
    "mini-ctc": "soundwave-mini, joint CTC / LLM decoding",
    "whisper": "Whisper tiny.en decoder",
}


def primary(summary: dict) -> tuple[str, float]:
    """(label, value in %) of a summary's headline metric; WER rows are capped at 200 % to stay readable."""
    metric = summary["primary_metric"]
    value = 100 * summary[metric]
    return metric, min(value, 200.0) if metric in ("wer", "cer") else value


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("eval_dir", type=Path, help="the OUT folder of scripts/eval_mini.sh")
    parser.add_argument("output", type=Path)
    args = parser.parse_args()
    fig, ax = plt.subplots(figsize=(10, 4))
    width = 0.8 / len(SYSTEMS)
    labels = []
    for index, name in enumerate(SETS):
        metric = None
        for offset, (prefix, system) in enumerate(SYSTEMS.items()):
            path = args.eval_dir / f"{prefix}-{name}" / "summary.json"
            if not path.is_file():
                continue
            metric, value = primary(json.loads(path.read_text()))
            x = index + (offset - (len(SYSTEMS) - 1) / 2) * width
            ax.bar(x, value, width, color=f"C{offset}", label=system if index == 0 else None)
            ax.text(x, value + 2, f"{value:.0f}", ha="center", fontsize=8)
        labels.append(f"{name}\n({metric or '-'})")
    ax.set_xticks(range(len(SETS)), labels, fontsize=8)
    ax.set_ylabel("% (WER: lower is better; accuracy: higher)")
    ax.set_title("soundwave-mini vs Whisper tiny.en's own decoder (same encoder), greedy")
    ax.legend()
    fig.tight_layout()
    args.output.parent.mkdir(parents=True, exist_ok=True)
    tmp = args.output.with_suffix(".tmp.png")
    fig.savefig(tmp, dpi=110)
    tmp.replace(args.output)
    print(args.output)


if __name__ == "__main__":
    main()
