#!/usr/bin/env bash
# released vs paper at an equal CPU budget (stage 1 from scratch, experiments/mini/configs/compare/stage1_modes.yaml),
# plus paper at released's step count (equal updates). Steps per mode come from step times measured in real runs (first epoch:
# every clip is encoded; bench/stage1.py times only the model, 1.1-1.6x less). Table: runs/compare/modes.md.
#   BUDGET_MIN=12 PAPER_S=1.47 RELEASED_S=16.4 bash experiments/mini/scripts/compare_modes.sh
set -euo pipefail
cd "$(dirname "$0")/../../.."  # the repository root
BUDGET_MIN=${BUDGET_MIN:-12}
PAPER_S=${PAPER_S:-1.47}       # s/step, paper mode, batch 16, sampled CTC, first epoch as measured in a real run
RELEASED_S=${RELEASED_S:-16.4} # s/step, released mode (30 s windows), likewise
steps() { python -c "print(max(1, int($BUDGET_MIN * 60 / $1)))"; }
mkdir -p runs/compare
run() {  # name mode steps
  local start=$SECONDS
  python -m soundwave train experiments/mini/configs/compare/stage1_modes.yaml "model.mode=$2" "training.max_steps=$3" \
    "training.output_dir=runs/compare/$1" 2> "runs/compare/$1.log"
  echo "$1 $2 $3 $((SECONDS - start))" >> runs/compare/times.txt
}
rm -f runs/compare/times.txt
released_steps=$(steps "$RELEASED_S")
run released released "$released_steps"
run paper paper "$(steps "$PAPER_S")"
run paper-equal-steps paper "$released_steps"
python - <<'PY'
import json
rows = ["| run | mode | steps x 16 | wall time (min, incl. load + validation) | valid CTC loss | greedy-CTC WER |",
        "|---|---|---|---|---|---|"]
for line in open("runs/compare/times.txt"):
    name, mode, steps, seconds = line.split()
    valid = [json.loads(r) for r in open(f"runs/compare/{name}/metrics.jsonl") if '"valid"' in r][-1]
    rows.append(f"| {name} | {mode} | {steps} | {int(seconds) / 60:.1f} | {valid['ctc_loss']:.2f} | {100 * valid['wer']:.1f} % |")
open("runs/compare/modes.md", "w").write("\n".join(rows) + "\n")
print("\n".join(rows))
PY
