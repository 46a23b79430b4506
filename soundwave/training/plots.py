"""Training curves as a PNG, from the run's metrics.jsonl."""

from __future__ import annotations

import json
from pathlib import Path

from soundwave.atomic import atomic_path


def plot_training_curves(metrics_file: str | Path, output: str | Path) -> Path | None:
    """Losses (train and validation) and learning rate against step. Returns the PNG path (None: no data)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = [json.loads(line) for line in Path(metrics_file).read_text().splitlines() if line.strip()]
    train = [r for r in rows if r.get("split") == "train"]
    valid = [r for r in rows if r.get("split") == "valid"]
    if not train:
        return None
    keys = [k for k in ("loss", "ce_loss", "ctc_loss") if any(k in r for r in train)]
    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    for key in keys:
        points = [(r["step"], r[key]) for r in train if key in r]
        axes[0].plot(*zip(*points, strict=True), label=f"train {key}")
        vpoints = [(r["step"], r[key]) for r in valid if key in r]
        if vpoints:
            axes[0].plot(*zip(*vpoints, strict=True), "o--", label=f"valid {key}")
    axes[0].set_xlabel("step")
    axes[0].set_ylabel("loss")
    axes[0].set_yscale("log")
    axes[0].legend()
    axes[0].grid(alpha=0.3)
    axes[1].plot([r["step"] for r in train], [r["lr"] for r in train])
    axes[1].set_xlabel("step")
    axes[1].set_ylabel("learning rate")
    axes[1].grid(alpha=0.3)
    if any("wer" in r for r in valid):
        twin = axes[1].twinx()
        twin.plot([r["step"] for r in valid if "wer" in r], [r["wer"] for r in valid if "wer" in r], "r.-")
        twin.set_ylabel("greedy-CTC WER", color="r")
    fig.tight_layout()
    output = Path(output)
    with atomic_path(output) as tmp:
        fig.savefig(tmp, format="png", dpi=110)
    plt.close(fig)
    return output
