#!/usr/bin/env bash
# Rebuild soundwave-mini from scratch: synthesize the corpus, train the three stages, bundle, evaluate.
#   bash scripts/train_mini.sh            (logs in runs/mini/*.log; see docs/mini.md for times and results)
set -euo pipefail
cd "$(dirname "$0")/.."
CORPUS=data/synth
mkdir -p runs/mini
python -m soundwave models prepare whisper-tiny.en >/dev/null
python -m soundwave models prepare smollm2-135m-instruct >/dev/null
[ -f "$CORPUS/train.jsonl" ] || python -m soundwave data synth --out "$CORPUS" --config configs/synth/default.yaml \
  --workers "$(nproc)" 2> runs/mini/synth.log
for stage in stage1_align stage1b_align stage2_shrink stage3_sft stage3b_sft; do
  python -m soundwave train "configs/mini/$stage.yaml" 2> "runs/mini/$stage.log"
done
python scripts/bundle_model.py runs/mini/stage3b/final soundwave/assets/soundwave-mini
bash scripts/eval_mini.sh
