"""Training metrics: `metrics.jsonl` (one JSON row per log event) and TensorBoard scalars in `tb/`."""

from __future__ import annotations

import json
from pathlib import Path


class MetricsLog:
    """Appends rows {"split", "step", ...}. On resume, rows past the resumed step are dropped first."""

    def __init__(self, run_dir: str | Path, enabled: bool = True, truncate_after: int | None = None) -> None:
        self.enabled = enabled
        self.path = Path(run_dir) / "metrics.jsonl"
        self.writer = None
        if not enabled:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if truncate_after is not None and self.path.is_file():
            rows = [line for line in self.path.read_text().splitlines() if line.strip()]
            kept = [line for line in rows if json.loads(line).get("step", 0) <= truncate_after]
            self.path.write_text("".join(line + "\n" for line in kept))
        if truncate_after == 0 and self.path.is_file():
            self.path.unlink()
        try:
            from torch.utils.tensorboard import SummaryWriter

            self.writer = SummaryWriter(str(Path(run_dir) / "tb"), purge_step=truncate_after or None)
        except ImportError:  # tensorboard is optional
            self.writer = None

    def log(self, split: str, step: int, values: dict) -> None:
        if not self.enabled:
            return
        row = {"split": split, "step": step, **{k: v for k, v in values.items() if v is not None}}
        with self.path.open("a") as handle:
            handle.write(json.dumps(row) + "\n")
        if self.writer is not None:
            for key, value in row.items():
                if isinstance(value, int | float) and key != "step":
                    self.writer.add_scalar(f"{split}/{key}", value, step)

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
