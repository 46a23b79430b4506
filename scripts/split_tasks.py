"""Split a manifest into one manifest per task.

    python scripts/split_tasks.py IN.jsonl OUT_DIR      # -> OUT_DIR/TASK.jsonl
"""

import json
import sys
from pathlib import Path

source, out = Path(sys.argv[1]), Path(sys.argv[2])
out.mkdir(parents=True, exist_ok=True)
by_task: dict[str, list[str]] = {}
for line in source.read_text().splitlines():
    if line.strip():
        row = json.loads(line)
        if row.get("audio") and not Path(row["audio"]).is_absolute():
            row["audio"] = str((source.parent / row["audio"]).resolve())
        by_task.setdefault(row.get("task", "asr"), []).append(json.dumps(row))
for task, rows in by_task.items():
    (out / f"{task}.jsonl").write_text("\n".join(rows) + "\n")
    print(f"{out / task}.jsonl: {len(rows)}")
