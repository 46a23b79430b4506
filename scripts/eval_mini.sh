#!/usr/bin/env bash
# Evaluate soundwave-mini and the Whisper tiny.en baseline (same encoder) on the held-out synthetic voices
# (ASR, spoken QA, speaker gender) and the real LibriVox / cards recordings. Reports: runs/eval/*/ (summary.json,
# report.md, utterances.jsonl, PNG), all in one chart: runs/eval/quality.png. Needs the corpus in data/synth.
#   MODEL=path/to/model OUT=runs/eval-new SKIP_BASELINE=1 bash scripts/eval_mini.sh   (another model, no Whisper)
# Transcription is scored twice: as the LLM answers alone (mini-*) and with the model's own transcription decoding
# (mini-ctc-*: the `transcribe:` section of its generation.yaml, as `soundwave transcribe` decodes; for the shipped
# model joint CTC + spelling CTC, 8 beams, word repair). DECODING="--num-beams 4 ..." overrides options of the latter.
set -euo pipefail
cd "$(dirname "$0")/.."
MODEL=${MODEL:-soundwave-mini}
OUT=${OUT:-runs/eval}
DECODING=${DECODING:-}
LLM_ALONE="--num-beams 1 --ctc-weight 0 --spelling-weight 0 --word-repair 0 --word-repair-speech 0"
ev() { python -m soundwave eval --no-progress --batch-size 16 --max-new-tokens 48 "$@"; }
# the held-out sets are also scored per voice (summary.json "groups", report.md "By voice")
grouping() { case "$1" in synth_*) echo --group-by voice ;; esac; }
for set in librivox cards synth_heldout_asr; do
  # shellcheck disable=SC2086  # the option strings are word lists
  ev --model "$MODEL" --data "data/eval/$set.jsonl" --task asr --output "$OUT/mini-$set" $(grouping "$set") $LLM_ALONE
  # shellcheck disable=SC2086
  ev --model "$MODEL" --data "data/eval/$set.jsonl" --task asr --output "$OUT/mini-ctc-$set" $(grouping "$set") $DECODING
  [ -n "${SKIP_BASELINE:-}" ] ||
    ev --baseline whisper --model whisper-tiny.en --data "data/eval/$set.jsonl" --task asr --output "$OUT/whisper-$set" $(grouping "$set")
done
ev --model "$MODEL" --data data/eval/synth_heldout_qa.jsonl --task qa --output "$OUT/mini-synth_heldout_qa" --group-by voice
ev --model "$MODEL" --data data/eval/synth_heldout_gender.jsonl --task cls --output "$OUT/mini-synth_heldout_gender" --group-by voice
python scripts/plot_mini_quality.py "$OUT" "$OUT/quality.png"
