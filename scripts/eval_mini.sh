#!/usr/bin/env bash
# Evaluate soundwave-mini and the Whisper tiny.en baseline (same encoder) on the held-out voice, the spoken-QA
# held-out set and the real LibriVox / cards recordings. Reports in runs/eval/*/ (summary.json, report.md, PNG).
set -euo pipefail
cd "$(dirname "$0")/.."
MODEL=${MODEL:-soundwave-mini}
OUT=${OUT:-runs/eval}
python scripts/split_tasks.py data/synth/test_heldout_voice.jsonl "$OUT/sets"
for set in librivox cards; do
  python -m soundwave eval --model "$MODEL" --data "data/eval/$set.jsonl" --task asr --output "$OUT/mini-$set" --no-progress
  python -m soundwave eval --baseline whisper --model whisper-tiny.en --data "data/eval/$set.jsonl" --task asr \
    --output "$OUT/whisper-$set" --no-progress
done
python -m soundwave eval --model "$MODEL" --data "$OUT/sets/asr.jsonl" --task asr --output "$OUT/mini-heldout-asr" --no-progress
python -m soundwave eval --baseline whisper --model whisper-tiny.en --data "$OUT/sets/asr.jsonl" --task asr \
  --output "$OUT/whisper-heldout-asr" --no-progress
python -m soundwave eval --model "$MODEL" --data "$OUT/sets/qa.jsonl" --task qa --output "$OUT/mini-heldout-qa" --no-progress
python -m soundwave eval --model "$MODEL" --data "$OUT/sets/gender.jsonl" --task cls --output "$OUT/mini-heldout-gender" \
  --no-progress
