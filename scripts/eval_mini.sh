#!/usr/bin/env bash
# Evaluate soundwave-mini and the Whisper tiny.en baseline (same encoder) on the held-out synthetic voices
# (ASR, spoken QA, speaker gender) and the real LibriVox / cards recordings. Reports: runs/eval/*/ (summary.json,
# report.md, utterances.jsonl, PNG), all in one chart: runs/eval/quality.png. Needs the corpus in data/synth.
#   MODEL=path/to/model OUT=runs/eval-new SKIP_BASELINE=1 bash scripts/eval_mini.sh   (another model, no Whisper)
# Transcription is scored twice: as the LLM answers alone (mini-*) and with joint CTC / LLM decoding (mini-ctc-*,
# CTC_WEIGHT, default 0.5; NUM_BEAMS, default 1; SPELLING_WEIGHT, the spelling CTC's weight, default 0: set it for
# a model with a spelling head, e.g. the shipped one: CTC_WEIGHT=0.25 SPELLING_WEIGHT=0.45; WORD_REPAIR, the text LM's
# weight in word repair after decoding, default 0: off; WORD_REPAIR_SPEECH, the speech LLM's weight there, default 0;
# REPAIR_NBEST, beams repaired, default 1; REPAIR_POOL, nearby words shortlisted, default 0; the shipped one:
# WORD_REPAIR=0.5 WORD_REPAIR_SPEECH=0.5 REPAIR_POOL=64 NUM_BEAMS=8), as `soundwave
# transcribe` decodes.
set -euo pipefail
cd "$(dirname "$0")/.."
MODEL=${MODEL:-soundwave-mini}
OUT=${OUT:-runs/eval}
CTC_WEIGHT=${CTC_WEIGHT:-0.5}
NUM_BEAMS=${NUM_BEAMS:-1}
SPELLING_WEIGHT=${SPELLING_WEIGHT:-0}
WORD_REPAIR=${WORD_REPAIR:-0}
WORD_REPAIR_SPEECH=${WORD_REPAIR_SPEECH:-0}
REPAIR_NBEST=${REPAIR_NBEST:-1}
REPAIR_POOL=${REPAIR_POOL:-0}
ev() { python -m soundwave eval --no-progress --batch-size 16 --max-new-tokens 48 "$@"; }
# the held-out sets are also scored per voice (summary.json "groups", report.md "By voice")
grouping() { case "$1" in synth_*) echo --group-by voice ;; esac; }
for set in librivox cards synth_heldout_asr; do
  ev --model "$MODEL" --data "data/eval/$set.jsonl" --task asr --output "$OUT/mini-$set" $(grouping "$set")
  ev --model "$MODEL" --data "data/eval/$set.jsonl" --task asr --output "$OUT/mini-ctc-$set" $(grouping "$set") \
    --ctc-weight "$CTC_WEIGHT" --num-beams "$NUM_BEAMS" --spelling-weight "$SPELLING_WEIGHT" \
    --word-repair "$WORD_REPAIR" --word-repair-speech "$WORD_REPAIR_SPEECH" --repair-nbest "$REPAIR_NBEST" --repair-pool "$REPAIR_POOL"
  [ -n "${SKIP_BASELINE:-}" ] ||
    ev --baseline whisper --model whisper-tiny.en --data "data/eval/$set.jsonl" --task asr --output "$OUT/whisper-$set" $(grouping "$set")
done
ev --model "$MODEL" --data data/eval/synth_heldout_qa.jsonl --task qa --output "$OUT/mini-synth_heldout_qa" --group-by voice
ev --model "$MODEL" --data data/eval/synth_heldout_gender.jsonl --task cls --output "$OUT/mini-synth_heldout_gender" --group-by voice
python scripts/plot_mini_quality.py "$OUT" "$OUT/quality.png"
